/* cmd_client.c - the client subcommands that talk to a running node over JSON-RPC
 * (rpc_client.c): deploy, upgrade, call (sign, submit, wait for the receipt), query, status,
 * block, receipt. Options and output: docs/cli.md; the methods they use: docs/rpc.md. */
#include "rpc.h"
#include "scheduler.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum { EXPIRY_BLOCKS = 100, POSITIONAL_MAX = 4 };

typedef struct client {
    const char *cmd;                  /* "call" ... for messages */
    const char *dir, *node, *keypath;
    bool json, print_envelope, no_wait;
    uint64_t timeout_s;
    char url[256];
    buf arg;                          /* concatenated --arg / --u64 / ARG pieces */
    bool has_arg;
    const char *pos[POSITIONAL_MAX];
    int npos;
} client;

static void usage(FILE *out, const char *cmd)
{
    static const struct {
        const char *name, *synopsis, *text;
    } uses[] = {
        {"deploy", "deploy FILE.wasm [ARG...]",
         "Creates a canister with the module and prints its id (signed by --key: the admin)."},
        {"upgrade", "upgrade ID FILE.wasm [ARG...]",
         "Upgrades canister ID to the module (signed by --key: a controller)."},
        {"call", "call ID METHOD [ARG...]",
         "Sends an update message, waits for its receipt, prints the reply and instructions;\n"
         "exit 1 with STATUS: message on stderr if the canister rejected or trapped."},
        {"query", "query ID METHOD [ARG...]",
         "Runs a query on the last block's state (never recorded) and prints the reply."},
        {"status", "status", "Prints the chain id, height, tip hash, state root and mempool size."},
        {"block", "block [N]", "Prints block N (default: the tip)."},
        {"cycles", "cycles mint ID AMOUNT | cycles balance ID | cycles",
         "mint: mints AMOUNT cycles (decimal, '_' allowed) into canister ID (signed by --key:\n"
         "the admin; a block records it) and prints the new balance.\n"
         "balance: prints canister ID's balance and freezing threshold as of the last block.\n"
         "With no subcommand: the chain's accounts, minted = balances + burned + fees."},
        {"receipt", "receipt MESSAGE_ID",
         "Prints the receipt of a message, or 'pending' while it waits or runs; exits 1 with\n"
         "NOT_FOUND for a message the node does not know."},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(uses); i++) {
        if (strcmp(uses[i].name, cmd))
            continue;
        fprintf(out, "usage: tally %s [options]\n\n%s\n\n", uses[i].synopsis, uses[i].text);
    }
    fprintf(out,
            "options:\n"
            "  --dir DIR         node directory (default ./.tally): its node.url, node.json\n"
            "                    and admin.key give the defaults below\n"
            "  --node URL        the node (default DIR/node.url, else http://<DIR/node.json\n"
            "                    listen>/, else http://127.0.0.1:7777/)\n"
            "  --key FILE        signing key (default DIR/admin.key)\n"
            "  --json            print the node's JSON result instead of text\n"
            "  --timeout S       seconds to wait for a receipt (default 120)\n"
            "  --no-wait         print the message id and return without waiting\n"
            "  --print-envelope  print the signed envelope (hex) and do not submit it\n"
            "ARG pieces (concatenated in order): TEXT, 0xHEX, @FILE; --arg ARG; --u64 N\n"
            "(8 bytes little-endian).\n");
}

static int fail(const client *c, status st, const char *fmt, const char *what)
{
    fprintf(stderr, "tally %s: %s: ", c->cmd, status_name(st));
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return 1;
}

static int rpc_fail(const client *c, status st, const rpc_error *e)
{
    if (st == ST_RPC_ERROR && e->status[0])
        fprintf(stderr, "tally %s: %s: %s\n", c->cmd, e->status, e->message);
    else if (st == ST_RPC_ERROR)
        fprintf(stderr, "tally %s: RPC_ERROR: %d %s\n", c->cmd, e->code, e->message);
    else
        fprintf(stderr, "tally %s: %s: %s\n", c->cmd, status_name(st), e->message);
    return 1;
}

static status arg_u64(client *c, const char *text)
{
    uint64_t v;
    if (!cli_u64_parse(text, &v))
        return ST_BAD_ARGUMENT;
    uint8_t b[8];
    le64_store(b, v);
    c->has_arg = true;
    return buf_put(&c->arg, b, 8);
}

/* Parses options; positionals beyond `fixed` are argument pieces. 0 ok, else exit code. */
static int parse(client *c, int argc, char **argv, int fixed)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        status st = ST_OK;
        if (!strcmp(a, "--json"))
            c->json = true;
        else if (!strcmp(a, "--print-envelope"))
            c->print_envelope = true;
        else if (!strcmp(a, "--no-wait"))
            c->no_wait = true;
        else if (v && !strcmp(a, "--dir"))
            c->dir = argv[++i];
        else if (v && !strcmp(a, "--node"))
            c->node = argv[++i];
        else if (v && !strcmp(a, "--key"))
            c->keypath = argv[++i];
        else if (v && !strcmp(a, "--timeout") && cli_u64_parse(v, &c->timeout_s))
            i++;
        else if (v && !strcmp(a, "--u64"))
            st = arg_u64(c, argv[++i]);
        else if (v && !strcmp(a, "--arg"))
            st = (c->has_arg = true, cli_arg_parse(argv[++i], &c->arg));
        else if (a[0] == '-' && a[1] == '-' && a[2])
            st = ST_BAD_ARGUMENT;
        else if (c->npos < fixed)
            c->pos[c->npos++] = a;
        else
            st = (c->has_arg = true, cli_arg_parse(a, &c->arg));
        if (st != ST_OK) {
            fprintf(stderr, "tally %s: %s: bad option or argument '%s'\n", c->cmd,
                    status_name(st), a);
            return st == ST_BAD_ARGUMENT ? 2 : 1;
        }
    }
    return 0;
}

/* The node URL: --node, DIR/node.url, DIR/node.json's listen address, or the default. */
static void resolve_url(client *c)
{
    if (c->node) {
        snprintf(c->url, sizeof c->url, "%s", c->node);
        return;
    }
    char path[4096];
    FILE *f = cli_path_join(path, sizeof path, c->dir, "node.url") ? fopen(path, "r") : NULL;
    if (f) {
        bool ok = fgets(c->url, sizeof c->url, f) != NULL;
        fclose(f);
        c->url[strcspn(c->url, "\r\n")] = '\0';
        if (ok && c->url[0])
            return;
    }
    cli_config cfg;
    cli_config_default(&cfg);
    cli_config_read(c->dir, &cfg);
    snprintf(c->url, sizeof c->url, "http://%s/", cfg.listen);
}

/* ---- printing ------------------------------------------------------------------------------ */

static void print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    printf("%s\n", text ? text : "null");
    base_free(text);
}

/* Reply bytes for people: text if printable, else 0x-hex; 8 bytes also as a u64. */
static void print_bytes(FILE *out, span b)
{
    if (b.len == 0)
        fprintf(out, "(empty)");
    else if (cli_is_printable(b))
        fprintf(out, "\"%.*s\"", (int)b.len, (const char *)b.ptr);
    else {
        char *h = cli_hex_new(b.ptr, b.len);
        fprintf(out, "0x%s", h ? h : "?");
        base_free(h);
    }
    if (b.len == 8)
        fprintf(out, " (u64 %llu)", (unsigned long long)le64_load(b.ptr));
}

/* Decodes a hex field of a result into *out. */
static bool field_bytes(json_t *o, const char *name, buf *out)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) &&
           cli_hex_decode(json_string_value(v), json_string_length(v), out) == ST_OK;
}

static uint64_t field_u64(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* A receipt or query result: reply on stdout (exit 0), or STATUS: reject on stderr (exit 1). */
static int print_outcome(const client *c, json_t *r, bool is_receipt)
{
    if (c->json) {
        print_json(r);
        return field_u64(r, "status") == ST_OK && json_object_get(r, "reply") ? 0 : 1;
    }
    buf b = {0};
    char where[96];
    snprintf(where, sizeof where, "%llu instructions", (unsigned long long)field_u64(r, "instructions"));
    if (is_receipt)
        snprintf(where + strlen(where), sizeof where - strlen(where), ", block %llu",
                 (unsigned long long)field_u64(r, "height"));
    if (json_is_integer(json_object_get(r, "reject_code")))
        snprintf(where + strlen(where), sizeof where - strlen(where), ", reject code %llu",
                 (unsigned long long)field_u64(r, "reject_code"));
    int rc = 0;
    if (field_bytes(r, "reply", &b)) {
        printf("reply: ");
        print_bytes(stdout, span_of(b.ptr, b.len));
        printf("  [%s]\n", where);
    } else {
        field_bytes(r, "reject", &b);
        json_t *name = json_object_get(r, "status_name");
        fprintf(stderr, "tally %s: %s: ", c->cmd,
                json_is_string(name) ? json_string_value(name) : "REJECTED");
        span text = span_of(b.ptr, b.len);
        size_t nlen = json_is_string(name) ? json_string_length(name) : 0;
        /* Trap texts already start with "<STATUS_NAME>: "; do not say it twice. */
        if (nlen && text.len > nlen + 2 && !memcmp(text.ptr, json_string_value(name), nlen) &&
            !memcmp(text.ptr + nlen, ": ", 2))
            text = span_of(text.ptr + nlen + 2, text.len - nlen - 2);
        if (cli_is_printable(text))
            fprintf(stderr, "%.*s", (int)text.len, (const char *)text.ptr);
        else
            print_bytes(stderr, span_of(b.ptr, b.len));
        fprintf(stderr, "  [%s]\n", where);
        rc = 1;
    }
    buf_fini(&b);
    return rc;
}

/* Any JSON object as "key: value" lines. */
static void print_fields(json_t *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (json_is_array(v)) {
            printf("%s:%s\n", key, json_array_size(v) ? "" : " (none)");
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) {
                char *t = json_is_string(x) ? NULL : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("  %s\n", t ? t : json_string_value(x));
                base_free(t);
            }
        } else {
            char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            printf("%s: %s\n", key, t ? t : json_string_value(v));
            base_free(t);
        }
    }
}

/* ---- messages ------------------------------------------------------------------------------ */

/* True if a `receipt` result says "no receipt yet" ({"pending": true, ...}, docs/rpc.md). */
static bool is_pending(json_t *r)
{
    return json_is_true(json_object_get(r, "pending"));
}

/* Polls `receipt` while the message is pending, until the receipt is there or the timeout
 * passes. A message the node does not know (never admitted, or expired unexecuted) ends the
 * wait at once with the node's NOT_FOUND error. */
static status wait_receipt(client *c, const char *id_hex, json_t **out, rpc_error *e)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned delay_ms = 5;
    for (;;) {
        json_t *params = json_pack("{s:s}", "message_id", id_hex);
        if (!params)
            return ST_OUT_OF_MEMORY;
        json_t *r = NULL;
        status st = rpc_client_call(c->url, "receipt", params, &r, e);
        json_decref(params);
        if (st != ST_OK)
            return st;
        if (!is_pending(r)) {
            *out = r;
            return ST_OK;
        }
        json_decref(r);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((uint64_t)(now.tv_sec - start.tv_sec) >= c->timeout_s) {
            snprintf(e->message, sizeof e->message, "no receipt for %s after %llu s", id_hex,
                     (unsigned long long)c->timeout_s);
            return ST_RECEIPT_TIMEOUT;
        }
        usleep(delay_ms * 1000u);
        if (delay_ms < 100)
            delay_ms *= 2;
    }
}

/* The current height (for the expiry) from `status`. */
static status tip_height(client *c, uint64_t *height, rpc_error *e)
{
    json_t *r = NULL;
    status st = rpc_client_call(c->url, "status", NULL, &r, e);
    if (st == ST_OK)
        *height = field_u64(r, "height");
    json_decref(r);
    return st;
}

/* Signs m with the key, submits it with `method` and waits for its receipt (*out), unless
 * --print-envelope or --no-wait say otherwise (then *out stays NULL). Returns an exit code. */
static int send_message(client *c, ledger_message *m, const char *method, json_t **out)
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE], id[LEDGER_HASH_SIZE];
    rpc_error e = {0};
    status st = cli_key_read(c->keypath, pk, sk);
    if (st != ST_OK)
        return fail(c, st, "cannot use the key file %s", c->keypath);
    uint64_t height = 0;
    st = tip_height(c, &height, &e);
    if (st != ST_OK)
        return rpc_fail(c, st, &e);
    memcpy(m->sender, pk, sizeof pk);
    if (getrandom(&m->nonce, sizeof m->nonce, 0) != (ssize_t)sizeof m->nonce)
        m->nonce = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    m->expiry_height = height + EXPIRY_BLOCKS;
    buf env = {0};
    st = ledger_message_sign(m, sk, &env, id);
    memset(sk, 0, sizeof sk);
    char *hex = st == ST_OK ? cli_hex_new(env.ptr, env.len) : NULL;
    char *id_hex = st == ST_OK ? cli_hex_new(id, sizeof id) : NULL;
    buf_fini(&env);
    int rc = 0;
    if (st != ST_OK || !hex || !id_hex) {
        rc = fail(c, st != ST_OK ? st : ST_OUT_OF_MEMORY, "%s", "cannot sign the message");
    } else if (c->print_envelope) {
        printf("%s\n", hex);
    } else {
        json_t *params = json_pack("{s:s}", "envelope", hex), *r = NULL;
        st = params ? rpc_client_call(c->url, method, params, &r, &e) : ST_OUT_OF_MEMORY;
        json_decref(params);
        json_decref(r);
        if (st == ST_OK && c->no_wait)
            printf("%s\n", id_hex);
        else if (st == ST_OK)
            st = wait_receipt(c, id_hex, out, &e);
        if (st != ST_OK)
            rc = rpc_fail(c, st, &e);
    }
    base_free(hex);
    base_free(id_hex);
    return rc;
}

static status read_module(client *c, const char *path, buf *install_arg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = cli_read_file(path, &bytes, &len);
    if (st == ST_OK)
        st = scheduler_install_arg(span_of(bytes, len), span_of(c->arg.ptr, c->arg.len),
                                   install_arg);
    base_free(bytes);
    return st;
}

/* deploy and upgrade. */
static int run_install(client *c, bool upgrade)
{
    ledger_message m = {0};
    buf arg = {0};
    int rc;
    if (c->npos != (upgrade ? 2 : 1)) {
        usage(stderr, c->cmd);
        return 2;
    }
    if (upgrade && cli_canister_parse(c->pos[0], &m.canister_id) != ST_OK)
        return fail(c, ST_BAD_CANISTER_ID, "'%s' is not a canister id", c->pos[0]);
    const char *path = c->pos[upgrade ? 1 : 0];
    status st = read_module(c, path, &arg);
    if (st != ST_OK) {
        buf_fini(&arg);
        return fail(c, st, "cannot read %s", path);
    }
    m.kind = upgrade ? LEDGER_MSG_UPGRADE : LEDGER_MSG_INSTALL;
    m.method = span_of("", 0);
    m.arg = span_of(arg.ptr, arg.len);
    json_t *r = NULL;
    rc = send_message(c, &m, upgrade ? "upgrade" : "deploy", &r);
    buf_fini(&arg);
    if (rc || !r)
        return rc;
    buf reply = {0};
    if (field_u64(r, "status") == ST_OK && !c->json) {
        uint64_t cid = m.canister_id;
        if (!upgrade && field_bytes(r, "reply", &reply) && reply.len == 8)
            cid = le64_load(reply.ptr);
        char text[LEDGER_CANISTER_TEXT_SIZE];
        ledger_canister_id_text(cid, text);
        printf("%s  [%s %s, %llu instructions, block %llu]\n", text,
               upgrade ? "upgraded to" : "installed", path,
               (unsigned long long)field_u64(r, "instructions"),
               (unsigned long long)field_u64(r, "height"));
    } else {
        rc = print_outcome(c, r, true);
    }
    buf_fini(&reply);
    json_decref(r);
    return rc;
}

static int run_call(client *c)
{
    ledger_message m = {0};
    if (c->npos != 2) {
        usage(stderr, c->cmd);
        return 2;
    }
    if (cli_canister_parse(c->pos[0], &m.canister_id) != ST_OK)
        return fail(c, ST_BAD_CANISTER_ID, "'%s' is not a canister id", c->pos[0]);
    m.kind = LEDGER_MSG_UPDATE;
    m.method = span_of(c->pos[1], strlen(c->pos[1]));
    m.arg = span_of(c->arg.ptr, c->arg.len);
    json_t *r = NULL;
    int rc = send_message(c, &m, "submit", &r);
    if (!rc && r)
        rc = print_outcome(c, r, true);
    json_decref(r);
    return rc;
}

static int run_query(client *c)
{
    uint64_t cid;
    if (c->npos != 2) {
        usage(stderr, c->cmd);
        return 2;
    }
    if (cli_canister_parse(c->pos[0], &cid) != ST_OK)
        return fail(c, ST_BAD_CANISTER_ID, "'%s' is not a canister id", c->pos[0]);
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    bool have_key = cli_key_read(c->keypath, pk, sk) == ST_OK;
    memset(sk, 0, sizeof sk);
    char *arg_hex = cli_hex_new(c->arg.ptr, c->arg.len);
    char *sender = have_key ? cli_hex_new(pk, sizeof pk) : NULL;
    json_t *params = arg_hex ? json_pack("{s:s, s:s, s:s}", "canister", c->pos[0], "method",
                                         c->pos[1], "arg", arg_hex) : NULL;
    if (params && sender)
        json_object_set_new(params, "sender", json_string(sender));
    base_free(arg_hex);
    base_free(sender);
    rpc_error e = {0};
    json_t *r = NULL;
    status st = params ? rpc_client_call(c->url, "query", params, &r, &e) : ST_OUT_OF_MEMORY;
    json_decref(params);
    int rc = st == ST_OK ? print_outcome(c, r, false) : rpc_fail(c, st, &e);
    json_decref(r);
    return rc;
}

/* tally cycles: mint, balance, or the chain's accounts. */
static int run_cycles(client *c)
{
    const char *sub = c->npos ? c->pos[0] : "";
    json_t *r = NULL, *params = NULL;
    rpc_error e = {0};
    int rc = 0;
    if (!strcmp(sub, "mint") && c->npos == 3) {
        ledger_message m = {.kind = LEDGER_MSG_MINT, .method = span_of("", 0)};
        u128 amount;
        uint8_t arg[16];
        if (cli_canister_parse(c->pos[1], &m.canister_id) != ST_OK)
            return fail(c, ST_BAD_CANISTER_ID, "'%s' is not a canister id", c->pos[1]);
        if (!u128_parse(c->pos[2], &amount))
            return fail(c, ST_BAD_ARGUMENT, "'%s' is not an amount of cycles (0 to 2^128-1)",
                        c->pos[2]);
        scheduler_mint_arg(amount, arg);
        m.arg = span_of(arg, sizeof arg);
        rc = send_message(c, &m, "mint", &r);
        buf reply = {0};
        if (!rc && r && !c->json && field_u64(r, "status") == ST_OK &&
            field_bytes(r, "reply", &reply) && reply.len == 16) {
            char text[U128_TEXT_SIZE];
            u128_format(le128_load(reply.ptr), text);
            printf("%s: %s cycles  [block %llu]\n", c->pos[1], text,
                   (unsigned long long)field_u64(r, "height"));
        } else if (!rc && r) {
            rc = print_outcome(c, r, true);
        }
        buf_fini(&reply);
        json_decref(r);
        return rc;
    }
    if (!strcmp(sub, "balance") && c->npos == 2)
        params = json_pack("{s:s}", "canister", c->pos[1]);
    else if (c->npos != 0) {
        usage(stderr, c->cmd);
        return 2;
    }
    status st = rpc_client_call(c->url, c->npos ? "canister_info" : "status", params, &r, &e);
    json_decref(params);
    if (st != ST_OK)
        return rpc_fail(c, st, &e);
    json_t *cy = json_object_get(r, "cycles");
    if (c->json) {
        print_json(cy);
    } else if (c->npos) {
        printf("%s: %s cycles, freezing threshold %lld s\n", c->pos[1],
               json_string_value(cy) ? json_string_value(cy) : "?",
               (long long)json_integer_value(json_object_get(r, "freezing_threshold")));
    } else {
        print_fields(cy);
    }
    json_decref(r);
    return 0;
}

/* The stage of a pending message in words. */
static const char *stage_text(json_t *r)
{
    const char *stage = json_string_value(json_object_get(r, "stage"));
    return stage && !strcmp(stage, "executing") ? "executing, paused across rounds"
                                                : "waiting in the mempool";
}

/* status, block, receipt: one RPC call, printed. */
static int run_info(client *c)
{
    json_t *params = NULL, *r = NULL;
    const char *method = c->cmd;
    uint64_t height;
    if (!strcmp(method, "status") && c->npos == 0) {
    } else if (!strcmp(method, "block") && c->npos <= 1) {
        if (c->npos == 1 && !cli_u64_parse(c->pos[0], &height))
            return fail(c, ST_BAD_ARGUMENT, "'%s' is not a block height", c->pos[0]);
        params = c->npos ? json_pack("{s:I}", "height", (json_int_t)height) : NULL;
    } else if (!strcmp(method, "receipt") && c->npos == 1) {
        params = json_pack("{s:s}", "message_id", c->pos[0]);
    } else {
        usage(stderr, c->cmd);
        return 2;
    }
    rpc_error e = {0};
    status st = rpc_client_call(c->url, method, params, &r, &e);
    json_decref(params);
    if (st != ST_OK)
        return rpc_fail(c, st, &e);
    int rc = 0;
    if (c->json)
        print_json(r);
    else if (is_pending(r))
        printf("pending (no receipt yet: %s)\n", stage_text(r));
    else if (!strcmp(method, "receipt"))
        rc = print_outcome(c, r, true);
    else
        print_fields(r);
    json_decref(r);
    return rc;
}

int cmd_client(int argc, char **argv)
{
    client c = {.cmd = argv[0], .dir = ".tally", .timeout_s = 120};
    if (cli_wants_help(argc, argv)) {
        usage(stdout, c.cmd);
        return 0;
    }
    bool message = !strcmp(c.cmd, "deploy") || !strcmp(c.cmd, "upgrade") ||
                   !strcmp(c.cmd, "call") || !strcmp(c.cmd, "query");
    int fixed = !strcmp(c.cmd, "deploy") ? 1 : message ? 2 : POSITIONAL_MAX;
    if (!strcmp(c.cmd, "cycles"))
        fixed = 3;
    int rc = parse(&c, argc, argv, fixed);
    char keypath[4096];
    if (!rc && !c.keypath) {
        if (!cli_path_join(keypath, sizeof keypath, c.dir, "admin.key"))
            rc = 2;
        c.keypath = keypath;
    }
    if (!rc) {
        resolve_url(&c);
        if (!strcmp(c.cmd, "deploy") || !strcmp(c.cmd, "upgrade"))
            rc = run_install(&c, !strcmp(c.cmd, "upgrade"));
        else if (!strcmp(c.cmd, "call"))
            rc = run_call(&c);
        else if (!strcmp(c.cmd, "query"))
            rc = run_query(&c);
        else if (!strcmp(c.cmd, "cycles"))
            rc = run_cycles(&c);
        else
            rc = run_info(&c);
    }
    buf_fini(&c.arg);
    return rc;
}
