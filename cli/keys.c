/* keys.c - files of the node directory: ed25519 key files (mode 0600) and node.json (listen
 * address, round interval). Formats: docs/cli.md "Files of a node directory". */
#include "rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool cli_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

/* Writes text to a new file of the given mode; never overwrites. */
static status write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return ST_IO_ERROR;
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(path);
            return ST_IO_ERROR;
        }
        done += (size_t)n;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        unlink(path);
        return ST_IO_ERROR;
    }
    return ST_OK;
}

status cli_key_write(const char *path, const uint8_t seed[LEDGER_SEED_SIZE])
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    status st = ledger_keypair(seed, pk, sk);
    if (st != ST_OK)
        return st;
    char *seed_hex = cli_hex_new(seed, LEDGER_SEED_SIZE);
    char *pk_hex = cli_hex_new(pk, LEDGER_PUBLIC_KEY_SIZE);
    char text[256];
    if (seed_hex && pk_hex) {
        snprintf(text, sizeof text,
                 "# tally ed25519 key: keep this file secret (mode 0600)\n"
                 "seed: %s\npublic: %s\n",
                 seed_hex, pk_hex);
        st = write_new(path, text, 0600);
    } else {
        st = ST_OUT_OF_MEMORY;
    }
    memset(text, 0, sizeof text);
    memset(sk, 0, sizeof sk);
    if (seed_hex)
        memset(seed_hex, 0, 2 * LEDGER_SEED_SIZE);
    base_free(seed_hex);
    base_free(pk_hex);
    return st;
}

/* Finds "name: <hex>" on its own line and decodes 32 bytes. */
static status key_field(const char *text, const char *name, uint8_t out[32])
{
    size_t nlen = strlen(name);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, name, nlen) || line[nlen] != ':')
            continue;
        const char *v = line + nlen + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = 0;
        while (v[n] && v[n] != '\n' && v[n] != '\r' && v[n] != ' ')
            n++;
        buf b = {0};
        status st = cli_hex_decode(v, n, &b);
        if (st == ST_OK && b.len != 32)
            st = ST_BAD_KEY_FILE;
        if (st == ST_OK)
            memcpy(out, b.ptr, 32);
        if (b.ptr)
            memset(b.ptr, 0, b.len);
        buf_fini(&b);
        return st == ST_OUT_OF_MEMORY ? st : st == ST_OK ? ST_OK : ST_BAD_KEY_FILE;
    }
    return ST_BAD_KEY_FILE;
}

status cli_key_read(const char *path, uint8_t pk[LEDGER_PUBLIC_KEY_SIZE],
                    uint8_t sk[LEDGER_SECRET_KEY_SIZE])
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = cli_read_file(path, &bytes, &len);
    if (st != ST_OK)
        return st;
    char *text = base_alloc(len + 1);
    if (!text) {
        base_free(bytes);
        return ST_OUT_OF_MEMORY;
    }
    memcpy(text, bytes, len);
    text[len] = '\0';
    memset(bytes, 0, len);
    base_free(bytes);
    uint8_t seed[LEDGER_SEED_SIZE], want[LEDGER_PUBLIC_KEY_SIZE];
    st = key_field(text, "seed", seed);
    if (st == ST_OK)
        st = key_field(text, "public", want);
    if (st == ST_OK)
        st = ledger_keypair(seed, pk, sk);
    if (st == ST_OK && memcmp(pk, want, LEDGER_PUBLIC_KEY_SIZE) != 0)
        st = ST_BAD_KEY_FILE;
    memset(seed, 0, sizeof seed);
    memset(text, 0, len);
    base_free(text);
    return st;
}

const char *cli_key_problem(const char *path, status st)
{
    if (st == ST_BAD_KEY_FILE)
        return status_message(st);
    if (access(path, F_OK) != 0)
        return errno == ENOENT ? "no such file" : strerror(errno);
    if (access(path, R_OK) != 0)
        return strerror(errno);
    return status_message(st);
}

void cli_config_default(cli_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:7777");
    cfg->round_interval_ms = 200;
}

status cli_config_read(const char *dir, cli_config *cfg)
{
    char path[4096];
    if (!cli_path_join(path, sizeof path, dir, "node.json"))
        return ST_BAD_ARGUMENT;
    if (access(path, F_OK) != 0)
        return ST_NOT_FOUND;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return errno == ENOENT ? ST_NOT_FOUND : ST_BAD_ARGUMENT;
    status st = ST_OK;
    if (!json_is_object(root)) {
        st = ST_BAD_ARGUMENT;
        goto out_decref;
    }
    json_t *listen = json_object_get(root, "listen");
    json_t *interval = json_object_get(root, "round_interval_ms");
    json_t *chain = json_object_get(root, "chain_id");
    json_t *genesis = json_object_get(root, "genesis_hash");
    if ((chain && (!json_is_string(chain) || json_string_length(chain) >= sizeof cfg->chain_id)) ||
        (genesis &&
         (!json_is_string(genesis) || json_string_length(genesis) != 2 * LEDGER_HASH_SIZE))) {
        st = ST_BAD_ARGUMENT;
        goto out_decref;
    }
    if (chain)
        snprintf(cfg->chain_id, sizeof cfg->chain_id, "%s", json_string_value(chain));
    if (genesis)
        snprintf(cfg->genesis_hash, sizeof cfg->genesis_hash, "%s", json_string_value(genesis));
    if (listen) {
        if (!json_is_string(listen) || json_string_length(listen) >= sizeof cfg->listen) {
            st = ST_BAD_ARGUMENT;
            goto out_decref;
        }
        snprintf(cfg->listen, sizeof cfg->listen, "%s", json_string_value(listen));
    }
    if (interval) {
        json_int_t v = json_is_integer(interval) ? json_integer_value(interval) : -1;
        if (v < 1 || v > 3600000) {
            st = ST_BAD_ARGUMENT;
            goto out_decref;
        }
        cfg->round_interval_ms = (uint32_t)v;
    }
out_decref:
    json_decref(root);
    return st;
}

status cli_config_write(const char *dir, const cli_config *cfg)
{
    char path[4096];
    if (!cli_path_join(path, sizeof path, dir, "node.json"))
        return ST_BAD_ARGUMENT;
    json_t *root = json_pack("{s:s, s:I}", "listen", cfg->listen, "round_interval_ms",
                             (json_int_t)cfg->round_interval_ms);
    if (root && cfg->chain_id[0])
        json_object_set_new(root, "chain_id", json_string(cfg->chain_id));
    if (root && cfg->genesis_hash[0])
        json_object_set_new(root, "genesis_hash", json_string(cfg->genesis_hash));
    if (!root)
        return ST_OUT_OF_MEMORY;
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return ST_OUT_OF_MEMORY;
    size_t n = strlen(text);
    char *withnl = base_alloc(n + 2);
    status st = ST_OUT_OF_MEMORY;
    if (withnl) {
        memcpy(withnl, text, n);
        withnl[n] = '\n';
        withnl[n + 1] = '\0';
        unlink(path); /* a planted link is removed, not followed (write_new: O_EXCL) */
        st = write_new(path, withnl, 0644);
        base_free(withnl);
    }
    base_free(text);
    return st;
}
