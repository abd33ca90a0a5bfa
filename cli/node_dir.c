/* node_dir.c - the safety of a node directory's files (docs/reliability.md "Files"): commands
 * that read a node directory refuse a missing one instead of creating it (no debris), refuse a
 * directory others may write to (they could plant a node.url symlink or swap the ledger), and
 * check the ledger file before LMDB maps it; the node's files are written through a temporary
 * file and rename (a symlink planted at the name is replaced, never followed); the node lock
 * tells `tally init` that a node holds the directory. Errors name the path and the errno. */
#include "node_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_node_dir_check(const char *cmd, const char *dir, bool need_ledger)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        fprintf(stderr, "tally %s: %s: %s: %s%s\n", cmd, dir, status_name(ST_IO_ERROR),
                errno == ENOENT ? "no such directory" : strerror(errno),
                errno == ENOENT ? " (make one with `tally init --dir DIR`)" : "");
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "tally %s: %s: %s: not a directory\n", cmd, dir, status_name(ST_IO_ERROR));
        return 1;
    }
    if ((sb.st_mode & S_IWOTH) && !(sb.st_mode & S_ISVTX)) {
        fprintf(stderr,
                "tally %s: %s: %s: the node directory is writable by other users (mode %04o): "
                "anyone could replace its files; run `chmod o-w %s`\n",
                cmd, dir, status_name(ST_IO_ERROR), (unsigned)(sb.st_mode & 07777), dir);
        return 1;
    }
    if (!need_ledger)
        return 0;
    char path[4096];
    if (!cli_path_join(path, sizeof path, dir, "data.mdb"))
        return 2;
    if (access(path, F_OK) != 0) {
        fprintf(stderr,
                "tally %s: %s: %s: not a node directory (no data.mdb); run `tally init "
                "--dir %s` first\n",
                cmd, dir, status_name(ST_NO_GENESIS), dir);
        return 1;
    }
    char why[512];
    status st = ledger_file_check(dir, why, sizeof why);
    if (st != ST_OK) {
        fprintf(stderr, "tally %s: %s: %s\n", cmd, status_name(st), why);
        return 1;
    }
    return 0;
}

status cli_file_replace(const char *dir, const char *name, const char *text, mode_t mode,
                        char *why, size_t cap)
{
    char path[4096], tmp[4096];
    if (!cli_path_join(path, sizeof path, dir, name) ||
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(why, cap, "%s/%s: path too long", dir, name);
        return ST_BAD_ARGUMENT;
    }
    unlink(tmp); /* a leftover of a crashed process of the same pid: never followed (O_EXCL) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(why, cap, "%s: %s", tmp, strerror(errno));
        return ST_IO_ERROR;
    }
    size_t len = strlen(text), done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = n < 0 ? errno : EIO;
        else
            done += (size_t)n;
    }
    if (!err && (fchmod(fd, mode) != 0 || fsync(fd) != 0))
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0) /* replaces a planted symlink itself, not its target */
        err = errno;
    if (err) {
        unlink(tmp);
        snprintf(why, cap, "%s: %s", path, strerror(err));
        return ST_IO_ERROR;
    }
    return ST_OK;
}

status cli_chain_check(const char *url, const cli_config *cfg, json_t **status_out, rpc_error *err)
{
    json_t *r = NULL;
    status st = rpc_client_call(url, "status", NULL, &r, err);
    if (st != ST_OK)
        return st;
    const char *chain = json_string_value(json_object_get(r, "chain_id"));
    const char *genesis = json_string_value(json_object_get(r, "genesis_hash"));
    if ((cfg->chain_id[0] && (!chain || strcmp(chain, cfg->chain_id))) ||
        (cfg->genesis_hash[0] && (!genesis || strcmp(genesis, cfg->genesis_hash)))) {
        snprintf(err->message, sizeof err->message,
                 "the node at %s serves chain '%s' (genesis %.16s...), the directory's is '%s' "
                 "(genesis %.16s...); use that directory's --dir, or --node",
                 url, chain ? chain : "?", genesis ? genesis : "?", cfg->chain_id,
                 cfg->genesis_hash[0] ? cfg->genesis_hash : "?");
        json_decref(r);
        return ST_GENESIS_MISMATCH;
    }
    if (status_out)
        *status_out = r;
    else
        json_decref(r);
    return ST_OK;
}

int cli_node_lock(const char *dir, bool *held_by_other, char *why, size_t cap)
{
    char path[4096];
    *held_by_other = false;
    if (!cli_path_join(path, sizeof path, dir, "node.lock")) {
        snprintf(why, cap, "%s/node.lock: path too long", dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *held_by_other = errno == EWOULDBLOCK;
        snprintf(why, cap, "%s: %s", path,
                 *held_by_other ? "a node is running on this directory" : strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
