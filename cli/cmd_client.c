/* cmd_client.c - the client subcommands that talk to a running node over JSON-RPC
 * (rpc_client.c): deploy, upgrade, call (sign, submit, wait for the receipt), query, status,
 * block, receipt. Options and output: docs/cli.md; the methods they use: docs/rpc.md. */
#include "node_dir.h"
#include "rpc.h"
#include "scheduler.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum { EXPIRY_BLOCKS = 100, POSITIONAL_MAX = 4 };

typedef struct client {
    const char *cmd; /* "call" ... for messages */
    const char *dir, *node, *keypath;
    bool json, print_envelope, no_wait;
    bool checked;               /* the node's chain was checked against DIR's */
    bool dir_given;             /* --dir on the command line */
    bool key_given, verbose;    /* --key; --verbose (block) */
    uint64_t max_message_bytes; /* the chain's, from `status` (0: not asked yet) */
    cli_config cfg;             /* DIR/node.json (or the defaults) */
    uint64_t timeout_s;
    char url[256];
    buf arg; /* concatenated --arg / --u64 / ARG pieces */
    bool has_arg;
    const char *candid;            /* an ARG in Candid text: "(...)" */
    const char *did_path, *output; /* --did FILE, --output candid|hex|json */
    buf did;                       /* the interface, once loaded (candid_cli.c) */
    bool did_loaded, show_candid;  /* show_candid: `canister ID --candid` */
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
        {"status", "status",
         "Prints the chain id, genesis hash, height, tip hash, state root and\n"
         "mempool size."},
        {"block", "block [N] [--verbose]",
         "Prints block N (default: the tip); --verbose adds each message's sender, kind,\n"
         "canister and method."},
        {"cycles", "cycles mint ID AMOUNT | cycles balance ID | cycles",
         "mint: mints AMOUNT cycles (decimal, '_' allowed) into canister ID (signed by --key:\n"
         "the admin; a block records it) and prints the new balance.\n"
         "balance: prints canister ID's balance and freezing threshold as of the last block.\n"
         "With no subcommand: the chain's accounts, minted = balances + burned + fees."},
        {"receipt", "receipt MESSAGE_ID",
         "Prints the receipt of a message, or 'pending' while it waits or runs; exits 1 with\n"
         "NOT_FOUND for a message the node does not know."},
        {"canisters", "canisters", "Lists the canisters: id, status, module hash, memory."},
        {"canister", "canister ID [--candid]",
         "Shows one canister: module hash, controllers, status, memory, version, methods,\n"
         "Candid interface; --candid prints only the interface (its module's candid:service\n"
         "section; exit 1 if it has none)."},
    };
    bool message = false, signs = false;
    for (size_t i = 0; i < BASE_ARRAY_LEN(uses); i++) {
        if (strcmp(uses[i].name, cmd))
            continue;
        fprintf(out, "usage: tally %s [options]\n\n%s\n\n", uses[i].synopsis, uses[i].text);
        message = i <= 2;          /* deploy upgrade call: signed messages with receipts */
        signs = message || i == 3; /* query: signed by the key's identity if it exists */
    }
    fprintf(out,
            "options:\n"
            "  --dir DIR         node directory (default ./.tally): its node.url, node.json%s\n"
            "                    give the defaults below; it must exist, and its node must\n"
            "                    serve its chain (chain id and genesis hash)\n"
            "  --node URL        the node (default DIR/node.url, else http://<DIR/node.json\n"
            "                    listen>/)\n"
            "  --json            print the node's JSON result instead of text\n",
            signs ? " and admin.key" : "");
    if (signs)
        fprintf(out, "  --key FILE        %s (default DIR/admin.key)\n",
                message ? "signing key" : "the caller's key; given, it must be readable");
    if (message)
        fprintf(out,
                "  --timeout S       seconds to wait for a receipt (default 120); after 2 s the\n"
                "                    wait says what it waits for on stderr\n"
                "  --no-wait         print the message id and return without waiting\n"
                "  --print-envelope  print the signed envelope (hex) and do not submit it\n");
    if (signs)
        fprintf(
            out,
            "  --did FILE        the canister's Candid interface (a .did file, or a .wasm with\n"
            "                    a candid:service section); default: the deployed module's\n"
            "  --output MODE     how to print a reply: candid (the Candid text only), hex, json;\n"
            "                    default: Candid text for a Candid reply (\"DIDL...\"), else "
            "text\n"
            "                    or hex\n"
            "ARG: Candid text when it starts with '(' (\"(42 : nat, \\\"hi\\\")\"), typed by the\n"
            "method's parameters (deploy/upgrade: the init arguments) in the interface, else by\n"
            "what the text shows; or raw pieces, concatenated in order: TEXT, 0xHEX, @FILE;\n"
            "--arg ARG; --u64 N (8 bytes little-endian). No ARG: () when the interface's\n"
            "method takes no argument, else nothing.\n");
}

static int fail(const client *c, status st, const char *fmt, const char *what)
{
    fprintf(stderr, "tally %s: %s: ", c->cmd, status_name(st));
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return 1;
}

/* "key file PATH: why" for messages (a static buffer: one message at a time). */
static const char *key_text(const char *path, status st)
{
    static char text[4200];
    snprintf(text, sizeof text, "key file %s: %s", path, cli_key_problem(path, st));
    return text;
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
            c->dir = argv[++i], c->dir_given = true;
        else if (v && !strcmp(a, "--node"))
            c->node = argv[++i];
        else if (v && !strcmp(a, "--key"))
            c->keypath = argv[++i], c->key_given = true;
        else if (v && !strcmp(a, "--timeout") && cli_u64_parse(v, &c->timeout_s))
            i++;
        else if (v && !strcmp(a, "--u64") && (st = arg_u64(c, v)) == ST_BAD_ARGUMENT) {
            fprintf(stderr,
                    "tally %s: --u64 %s: %s: not a number (want decimal or 0x-hex, at "
                    "most 2^64-1)\n",
                    c->cmd, v, status_name(st));
            return 2;
        } else if (v && !strcmp(a, "--u64"))
            i++;
        else if (!strcmp(a, "--verbose"))
            c->verbose = true;
        else if (v && !strcmp(a, "--arg"))
            st = (c->has_arg = true, cli_arg_parse(argv[++i], &c->arg));
        else if (!strcmp(a, "--candid") && !strcmp(c->cmd, "canister"))
            c->show_candid = true;
        else if (v && !strcmp(a, "--did"))
            c->did_path = argv[++i];
        else if (v && !strcmp(a, "--output") &&
                 (!strcmp(v, "candid") || !strcmp(v, "hex") || !strcmp(v, "json")))
            c->output = argv[++i], c->json = !strcmp(v, "json");
        else if (c->npos >= fixed && a[0] == '(' && !c->candid)
            c->candid = a;
        else if (a[0] == '-' && a[1] == '-' && a[2])
            st = ST_BAD_ARGUMENT;
        else if (c->npos < fixed)
            c->pos[c->npos++] = a;
        else
            st = (c->has_arg = true, cli_arg_parse(a, &c->arg));
        if (st != ST_OK) {
            fprintf(stderr, "tally %s: %s: %s '%s'%s\n", c->cmd, status_name(st),
                    a[0] == '-' && a[1] == '-' ? "unknown option, or no value after" : "argument",
                    a, st == ST_IO_ERROR ? " (cannot read the @FILE)" : "");
            return st == ST_BAD_ARGUMENT ? 2 : 1;
        }
    }
    if (c->candid && c->has_arg) {
        fprintf(stderr,
                "tally %s: BAD_ARGUMENT: a Candid argument cannot be mixed with raw "
                "argument pieces\n",
                c->cmd);
        return 2;
    }
    return 0;
}

/* Every RPC call of a client: the first one checks that the node serves the chain of DIR
 * (chain id and genesis hash in DIR/node.json), so a client never talks to another
 * directory's node by accident (they all default to 127.0.0.1:7777). */
static status call(client *c, const char *method, json_t *params, json_t **r, rpc_error *e)
{
    if (!c->checked && (!c->node || c->dir_given)) { /* --node alone: no directory to match */
        status st = cli_chain_check(c->url, &c->cfg, NULL, e);
        if (st != ST_OK)
            return st;
        c->checked = true;
    }
    /* a node still starting (loading canisters, resuming a paused message) answers
     * NODE_STARTING: wait for it, up to --timeout, saying so after 2 s */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bool said = false;
    for (;;) {
        status st = rpc_client_call(c->url, method, params, r, e);
        if (st != ST_RPC_ERROR || strcmp(e->status, "NODE_STARTING") != 0)
            return st;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((uint64_t)(now.tv_sec - start.tv_sec) >= c->timeout_s)
            return st;
        if (!said && now.tv_sec - start.tv_sec >= 2) {
            fprintf(stderr, "tally %s: waiting for the node to finish starting (resuming)\n",
                    c->cmd);
            said = true;
        }
        usleep(100000);
    }
}

/* The node URL: --node, DIR/node.url, DIR/node.json's listen address, or the default. */
static void resolve_url(client *c)
{
    cli_config_default(&c->cfg);
    cli_config_read(c->dir, &c->cfg);
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
    snprintf(c->url, sizeof c->url, "http://%s/", c->cfg.listen);
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

/* ---- Candid (candid_cli.c) ---------------------------------------------------------------- */

static status canister_info_did(client *c, const char *canister, buf *did);

/* The interface: --did (a .did file or a module with a candid:service section), else the
 * module being deployed, else the deployed module's (canister_info). Empty if none. */
static status load_did(client *c, const char *canister, span module)
{
    if (c->did_loaded)
        return ST_OK;
    c->did_loaded = true;
    span text;
    if (c->did_path) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        status st = cli_read_file(c->did_path, &bytes, &len);
        if (st == ST_OK)
            st = cli_wasm_candid(span_of(bytes, len), &text) ? buf_put(&c->did, text.ptr, text.len)
                                                             : buf_put(&c->did, bytes, len);
        base_free(bytes);
        return st;
    }
    if (module.len)
        return cli_wasm_candid(module, &text) ? buf_put(&c->did, text.ptr, text.len) : ST_OK;
    return canister ? canister_info_did(c, canister, &c->did) : ST_OK;
}

/* Encodes the Candid argument, if there is one, into c->arg. 0 or an exit code. Without any
 * argument, a method (or init) of the interface that takes none, or only optional ones, gets
 * `()` encoded (DIDL 00 00, as dfx sends: Candid canisters refuse an empty message); otherwise
 * nothing is sent. */
static int candid_arg(client *c, const char *canister, const char *method, span module)
{
    if (!c->candid && !c->has_arg) {
        char why[256];
        if (load_did(c, canister, module) == ST_OK && c->did.len &&
            cli_candid_args(span_of(c->did.ptr, c->did.len), method, "()", &c->arg, why,
                            sizeof why) != ST_OK)
            c->arg.len = 0;
        return 0;
    }
    if (!c->candid)
        return 0;
    status st = load_did(c, canister, module);
    if (st != ST_OK)
        return fail(c, st, "cannot read the interface %s", c->did_path ? c->did_path : "");
    char why[256];
    st = cli_candid_args(span_of(c->did.ptr, c->did.len), method, c->candid, &c->arg, why,
                         sizeof why);
    if (st != ST_OK)
        return fail(c, st, "%s", why);
    return 0;
}

/* A reply for people: Candid text for a Candid message (--output candid: nothing else), hex
 * for --output hex, else text or hex (print_bytes). A call or query types it here (--did or
 * the canister's interface); `receipt` shows the node's reply_candid (node_text), typed by the
 * interface there. */
static void print_reply(client *c, span b, const char *where, const char *node_text)
{
    buf text = {0};
    bool hex = c->output && !strcmp(c->output, "hex");
    bool only = c->output && !strcmp(c->output, "candid");
    const char *method = !strcmp(c->cmd, "call") || !strcmp(c->cmd, "query") ? c->pos[1] : NULL;
    if (!hex && cli_is_candid(b) && !method && node_text) {
        if (buf_put(&text, node_text, strlen(node_text)) != ST_OK)
            text.len = 0;
    } else if (!hex && cli_is_candid(b)) {
        if (method && load_did(c, c->pos[0], span_of(NULL, 0)) != ST_OK)
            c->did.len = 0;
        if (cli_candid_reply(span_of(c->did.ptr, c->did.len), method, b, &text) != ST_OK)
            text.len = 0;
    }
    if (hex || (only && text.len == 0)) {
        char *h = cli_hex_new(b.ptr, b.len);
        printf("%s\n", h ? h : "?");
        base_free(h);
    } else if (only) {
        printf("%.*s\n", (int)text.len, (const char *)text.ptr);
    } else {
        printf("reply: ");
        if (text.len)
            printf("%.*s", (int)text.len, (const char *)text.ptr);
        else
            print_bytes(stdout, b);
        printf("  [%s]\n", where);
    }
    buf_fini(&text);
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
static int print_outcome(client *c, json_t *r, bool is_receipt)
{
    if (c->json) {
        print_json(r);
        return field_u64(r, "status") == ST_OK && json_object_get(r, "reply") ? 0 : 1;
    }
    buf b = {0};
    char where[200];
    snprintf(where, sizeof where, "%llu instructions",
             (unsigned long long)field_u64(r, "instructions"));
    if (is_receipt)
        snprintf(where + strlen(where), sizeof where - strlen(where), ", block %llu, message %s",
                 (unsigned long long)field_u64(r, "height"),
                 json_is_string(json_object_get(r, "message_id"))
                     ? json_string_value(json_object_get(r, "message_id"))
                     : "?");
    if (json_is_integer(json_object_get(r, "reject_code")))
        snprintf(where + strlen(where), sizeof where - strlen(where), ", reject code %llu",
                 (unsigned long long)field_u64(r, "reject_code"));
    int rc = 0;
    if (field_bytes(r, "reply", &b)) {
        json_t *node_text = json_object_get(r, "reply_candid");
        print_reply(c, span_of(b.ptr, b.len), where,
                    json_is_string(node_text) ? json_string_value(node_text) : NULL);
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
        if (text.len == 0) /* no reject text: say what the status means */
            fprintf(stderr, "%s", status_message((status)field_u64(r, "status")));
        else if (cli_is_printable(text))
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
    json_object_foreach(o, key, v)
    {
        if (json_is_array(v)) {
            printf("%s:%s\n", key, json_array_size(v) ? "" : " (none)");
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
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

/* `block`: the fields, and with --verbose one line per message: id, kind, sender (short),
 * canister and method. */
static void print_block(json_t *r)
{
    json_t *details = json_incref(json_object_get(r, "message_details"));
    json_object_del(r, "message_details");
    print_fields(r);
    size_t i;
    json_t *m;
    if (details)
        printf("message details:%s\n", json_array_size(details) ? "" : " (none)");
    json_array_foreach(details, i, m)
    {
        const char *can = json_string_value(json_object_get(m, "canister"));
        printf("  %s %s from %.16s... to %s method '%s', %llu argument bytes\n",
               json_string_value(json_object_get(m, "id")),
               json_string_value(json_object_get(m, "kind")),
               json_string_value(json_object_get(m, "sender")), can ? can : "(new canister)",
               json_string_value(json_object_get(m, "method")),
               (unsigned long long)field_u64(m, "arg_bytes"));
    }
    json_decref(details);
}

/* `canisters`: one line each. */
static void print_canisters(json_t *r)
{
    json_t *list = json_object_get(r, "canisters"), *c;
    size_t i;
    if (!json_array_size(list))
        printf("no canisters\n");
    json_array_foreach(list, i, c)
    {
        const char *hash = json_string_value(json_object_get(c, "module_hash"));
        printf("%s  %-8s  module %.16s%s  heap %llu pages, stable %llu pages, version %llu\n",
               json_string_value(json_object_get(c, "canister")),
               json_string_value(json_object_get(c, "status")), hash ? hash : "(none)",
               hash ? "..." : "", (unsigned long long)field_u64(c, "heap_pages"),
               (unsigned long long)field_u64(c, "stable_pages"),
               (unsigned long long)field_u64(c, "version"));
    }
    if (json_is_integer(json_object_get(r, "next")))
        printf("(more from id %llu)\n", (unsigned long long)field_u64(r, "next"));
}

/* ---- messages ------------------------------------------------------------------------------ */

/* The stage of a pending message in words. */
static const char *stage_text(json_t *r)
{
    const char *stage = json_string_value(json_object_get(r, "stage"));
    if (stage && !strcmp(stage, "consensus"))
        return "forwarded to consensus, not yet in a block of this node";
    return stage && !strcmp(stage, "executing") ? "executing, paused across rounds"
                                                : "waiting in the mempool";
}

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
    char said[32] = ""; /* the stage last reported on stderr */
    for (;;) {
        json_t *params = json_pack("{s:s}", "message_id", id_hex);
        if (!params)
            return ST_OUT_OF_MEMORY;
        json_t *r = NULL;
        status st = call(c, "receipt", params, &r, e);
        json_decref(params);
        if (st != ST_OK)
            return st;
        if (!is_pending(r)) {
            *out = r;
            return ST_OK;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        const char *stage = json_string_value(json_object_get(r, "stage"));
        if (now.tv_sec - start.tv_sec >= 2 && stage && strcmp(stage, said)) {
            fprintf(stderr, "tally %s: waiting for %.16s...: %s\n", c->cmd, id_hex, stage_text(r));
            snprintf(said, sizeof said, "%s", stage);
        }
        json_decref(r);
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
    status st = call(c, "status", NULL, &r, e);
    if (st == ST_OK) {
        *height = field_u64(r, "height");
        c->max_message_bytes = field_u64(r, "max_message_bytes");
    }
    json_decref(r);
    return st;
}

/* The "candid" field of canister_info: the deployed module's interface (docs/rpc.md). The
 * management canister has none here: its arguments are typed as their text shows. */
static status canister_info_did(client *c, const char *canister, buf *did)
{
    uint64_t id;
    if (cli_canister_parse(canister, &id) == ST_OK && id == LEDGER_CANISTER_NONE)
        return ST_OK;
    json_t *params = json_pack("{s:s}", "canister", canister), *r = NULL;
    rpc_error e = {0};
    status st = params ? call(c, "canister_info", params, &r, &e) : ST_OUT_OF_MEMORY;
    json_t *text = st == ST_OK ? json_object_get(r, "candid") : NULL;
    if (json_is_string(text))
        st = buf_put(did, json_string_value(text), json_string_length(text));
    json_decref(params);
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
        return fail(c, st, "%s", key_text(c->keypath, st));
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
    } else if (c->max_message_bytes && strlen(hex) / 2 > c->max_message_bytes) {
        char what[160]; /* checked here: the node would refuse it (HTTP 413 or the same error) */
        snprintf(what, sizeof what,
                 "the signed message is %zu bytes, above the chain's limit "
                 "of %llu (genesis max_message_bytes)",
                 strlen(hex) / 2, (unsigned long long)c->max_message_bytes);
        rc = fail(c, ST_MESSAGE_TOO_LARGE, "%s", what);
    } else if (c->print_envelope) {
        printf("%s\n", hex);
    } else {
        json_t *params = json_pack("{s:s}", "envelope", hex), *r = NULL;
        st = params ? call(c, method, params, &r, &e) : ST_OUT_OF_MEMORY;
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

/* A module file must be a Wasm binary: text (the .wat format, or anything else) is refused
 * here, before it is signed, stored in a block and charged, with a hint to compile it. */
static status check_module(const client *c, const char *path, span bytes)
{
    static const uint8_t magic[4] = {0, 'a', 's', 'm'};
    if (bytes.len >= 8 && !memcmp(bytes.ptr, magic, 4))
        return ST_OK;
    size_t n = strlen(path);
    bool wat =
        (n > 4 && !strcmp(path + n - 4, ".wat")) || (n > 5 && !strcmp(path + n - 5, ".wast"));
    fprintf(stderr, "tally %s: %s: %s: %s is not a WebAssembly binary module%s\n", c->cmd,
            status_name(ST_MALFORMED_MAGIC), path, path,
            wat || cli_is_printable(bytes)
                ? " but text; compile it first, e.g. `wat2wasm FILE.wat -o FILE.wasm` (or\n"
                  "clang --target=wasm32 for C, see docs/canisters.md)"
                : "");
    return ST_MALFORMED_MAGIC;
}

static status read_module(client *c, const char *path, buf *install_arg)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = cli_read_file(path, &bytes, &len);
    if (st == ST_OK && candid_arg(c, NULL, NULL, span_of(bytes, len)) != 0)
        st = ST_BAD_ARGUMENT;
    if (st == ST_OK)
        st = check_module(c, path, span_of(bytes, len));
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
    if (st == ST_MALFORMED_MAGIC) {
        buf_fini(&arg);
        return 1; /* check_module said why */
    }
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
    if (field_u64(r, "status") == ST_OK && c->json && !upgrade &&
        field_bytes(r, "reply", &reply) &&
        reply.len == 8) { /* the new canister's id, as text too */
        char text[LEDGER_CANISTER_TEXT_SIZE];
        ledger_canister_id_text(le64_load(reply.ptr), text);
        json_object_set_new(r, "canister", json_string(text));
        reply.len = 0;
    }
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
    int rc = candid_arg(c, c->pos[0], c->pos[1], span_of(NULL, 0));
    if (rc)
        return rc;
    m.kind = LEDGER_MSG_UPDATE;
    m.method = span_of(c->pos[1], strlen(c->pos[1]));
    m.arg = span_of(c->arg.ptr, c->arg.len);
    json_t *r = NULL;
    rc = send_message(c, &m, "submit", &r);
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
    int rc = candid_arg(c, c->pos[0], c->pos[1], span_of(NULL, 0));
    if (rc)
        return rc;
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    status kst = cli_key_read(c->keypath, pk, sk);
    bool have_key = kst == ST_OK;
    memset(sk, 0, sizeof sk);
    if (!have_key && c->key_given) /* a key named on the command line is no fallback */
        return fail(c, kst, "%s", key_text(c->keypath, kst));
    char *arg_hex = cli_hex_new(c->arg.ptr, c->arg.len);
    char *sender = have_key ? cli_hex_new(pk, sizeof pk) : NULL;
    json_t *params = arg_hex ? json_pack("{s:s, s:s, s:s}", "canister", c->pos[0], "method",
                                         c->pos[1], "arg", arg_hex)
                             : NULL;
    if (params && sender)
        json_object_set_new(params, "sender", json_string(sender));
    base_free(arg_hex);
    base_free(sender);
    rpc_error e = {0};
    json_t *r = NULL;
    status st = params ? call(c, "query", params, &r, &e) : ST_OUT_OF_MEMORY;
    json_decref(params);
    rc = st == ST_OK ? print_outcome(c, r, false) : rpc_fail(c, st, &e);
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

/* status, block, receipt: one RPC call, printed. */
static int run_info(client *c)
{
    json_t *params = NULL, *r = NULL;
    const char *method = c->cmd;
    uint64_t height;
    if (!strcmp(method, "status") && c->npos == 0) {
    } else if (!strcmp(method, "block") && c->npos <= 1) {
        if (c->npos == 1 && !cli_u64_parse(c->pos[0], &height)) {
            fail(c, ST_BAD_ARGUMENT, "'%s' is not a block height", c->pos[0]);
            return 2;
        }
        params = json_pack("{s:b}", "verbose", c->verbose);
        if (params && c->npos)
            json_object_set_new(params, "height", json_integer((json_int_t)height));
    } else if (!strcmp(method, "canisters") && c->npos == 0) {
    } else if (!strcmp(method, "canister") && c->npos == 1) {
        uint64_t cid;
        if (cli_canister_parse(c->pos[0], &cid) != ST_OK) {
            fail(c, ST_BAD_CANISTER_ID, "'%s' is not a canister id", c->pos[0]);
            return 2;
        }
        method = "canister_info";
        params = json_pack("{s:I}", "canister", (json_int_t)cid);
    } else if (!strcmp(method, "receipt") && c->npos == 1) {
        params = json_pack("{s:s}", "message_id", c->pos[0]);
    } else {
        usage(stderr, c->cmd);
        return 2;
    }
    rpc_error e = {0};
    status st = call(c, method, params, &r, &e);
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
    else if (!strcmp(method, "canisters"))
        print_canisters(r);
    else if (c->show_candid && json_is_string(json_object_get(r, "candid")))
        printf("%s\n", json_string_value(json_object_get(r, "candid")));
    else if (c->show_candid)
        rc = fail(c, ST_NOT_FOUND, "canister %s has no Candid interface (candid:service section)",
                  c->pos[0]);
    else if (!strcmp(method, "block"))
        print_block(r);
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
    if (!rc && !c.node)
        rc = cli_node_dir_check(c.cmd, c.dir, false); /* a missing --dir is no fallback */
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
    buf_fini(&c.did);
    return rc;
}
