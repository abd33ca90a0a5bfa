/* spec_runner.c - runs the official WebAssembly core testsuite (wast2json output) against tally.
 *
 *   spec_runner [-v] [--only NAME] [--instrument OUT_DIR] [--tier compiled [--cache DIR]]
 *               CORE_DIR JSON_DIR
 *
 * CORE_DIR holds the .wast scripts (../shared/wasm-spec/core, see its README); JSON_DIR holds
 * their build-time conversion, JSON_DIR/NAME/NAME.json plus the .wasm files (convert.sh). Every
 * .wast must have its JSON, or the runner stops with exit 2 before running anything: it never
 * skips silently.
 *
 * Decoding and validation (module, assert_malformed, assert_invalid, and the module part of
 * assert_unlinkable/assert_uninstantiable) run through engine.h. Everything that executes code
 * goes through spec_exec.h and counts as "not run yet" while spec_exec_available() is false.
 * Text-format modules are "not applicable": tally reads binary modules only.
 *
 * Output: FAIL lines (at most 50 per file unless -v), a per-file table, the n/a and not-run
 * counts, then the last line "N passed, N failed". Exit 0 if nothing failed and something
 * passed, 1 otherwise, 2 on a setup error (missing data, unreadable JSON, bad arguments).
 *
 * --instrument OUT_DIR (the metering cross-check, docs/metering.md "How it is tested"): every
 * module that must load is first instrumented (instrument.h, schedule v1) and the instrumented
 * module is what gets instantiated; a module `__tally` whose `out_of_instructions` does nothing
 * is registered, so each counter runs down (below zero) across the whole script. All the
 * original assertions must still pass. After each instantiation and each invoke, the runner
 * reads that instance's `__tally_counter`, and writes OUT_DIR/NAME/NAME.json: the commands it
 * executed, with module files replaced by their instrumented copies (written beside it), the
 * `__tally` module and its registration first, and after each counter reading an assert_return
 * of `get __tally_counter` expecting the value tally saw. wabt's spectest-interp passing that
 * script means wabt agrees with tally on every result and every counter value. After an
 * assert_exhaustion the invoked instance's counter is no longer read (engines exhaust their
 * stacks at different depths). The text-format and NUL-named commands that tally does not run,
 * and assert_malformed/assert_invalid (nothing to instrument), are left out of that script.
 * The output gains a line "metering: N modules instrumented, N counter values recorded ..."
 * before the last line.
 *
 * --tier compiled: every module is also built by the compiled tier (engine.h, docs/engine.md)
 * and runs there; a module the C compiler cannot build is a failure, never a silent fallback.
 * --cache DIR keeps the compiled objects by source hash (reruns compile nothing). The output
 * gains a line "compiled tier: N modules compiled". With --instrument as well, OUT_DIR's scripts
 * hold every counter value the compiled code reached: tests/spec/tiers.sh compares them with
 * the interpreter's. --tier quick: the same, built by the quick route (tcc, engine.h
 * ENGINE_NATIVE_QUICK). */
#include "engine.h"
#include "instrument.h"
#include "spec_exec.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    MAX_PRINTED_FAILURES = 50, /* FAIL lines per file without -v */
    MAX_RESULTS = 16,          /* spec_env_invoke's limit */
    PATH_LEN = 4096,
};

typedef struct tallies {
    unsigned long passed, failed, na, notrun;
} tallies;

/* One row of the final table. */
typedef struct file_result {
    char *name; /* "i32" (from i32.wast) */
    tallies t;
} file_result;

/* A named instance: scripts name modules "$M"; the latest instance with a name is the one. */
typedef struct instance_name {
    char *name;
    unsigned long id;
} instance_name;

/* --instrument state. Instances are numbered in instantiation order, so the runner knows which
 * instance an action reaches (its name, or the current one) without asking spec_exec.h. */
typedef struct meter {
    const char *out_dir; /* OUT_DIR; NULL without --instrument */
    char dir[PATH_LEN];  /* OUT_DIR/NAME of the script being run */
    json_t *cmds;        /* the wabt script being built */
    unsigned long next_id, current_id;
    instance_name *names;
    size_t nnames, capnames;
    unsigned long *stopped; /* instances whose counter is no longer read (exhaustion) */
    size_t nstopped, capstopped;
    /* totals over all scripts */
    unsigned long modules, counters, stopped_total, scripts;
} meter;

typedef struct runner {
    engine_config cfg;
    bool verbose;
    bool exec;   /* spec_exec_available() */
    bool native; /* --tier compiled */
    engine_native_config ncfg;
    size_t native_total;  /* modules compiled */
    const char *json_dir; /* JSON_DIR */
    /* the script being run */
    const char *name;
    spec_env *env;         /* NULL unless exec */
    long long broken_line; /* line of the last `module` that did not load/instantiate, or 0 */
    tallies t;
    unsigned long text_diffs[2]; /* [0] rejections, [1] traps: right class, other message */
    unsigned long na_nul;        /* actions naming an export with a NUL byte */
    meter meter;
} runner;

/* What an expected value accepts besides its exact bits. */
typedef enum pattern {
    PAT_EXACT,
    PAT_NAN_CANONICAL,  /* any canonical NaN, either sign */
    PAT_NAN_ARITHMETIC, /* any NaN with the quiet bit set, either sign */
    PAT_REF_NONNULL,    /* any non-null reference of the type */
} pattern;

typedef struct expected {
    spec_value v;
    pattern pat;
} expected;

/* ---- reporting --------------------------------------------------------------------------- */

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "spec_runner: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void pass(runner *r)
{
    r->t.passed++;
}

/* Counts a failure and prints it (the first MAX_PRINTED_FAILURES of a file, all with -v). */
static void fail(runner *r, long long line, const char *type, const char *fmt, ...)
{
    r->t.failed++;
    if (!r->verbose && r->t.failed > MAX_PRINTED_FAILURES)
        return;
    va_list ap;
    printf("FAIL %s.wast:%lld %s: ", r->name, line, type);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* With -v, prints what a passing assertion saw. */
static void note(const runner *r, long long line, const char *type, const char *fmt, ...)
{
    if (!r->verbose)
        return;
    va_list ap;
    printf("ok   %s.wast:%lld %s: ", r->name, line, type);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* ---- JSON access ------------------------------------------------------------------------- */

/* The string member `key` of obj, or NULL if absent. Present but not a string: setup error. */
static const char *json_str_opt(const runner *r, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v))
        die("%s.json: member \"%s\" is not a string", r->name, key);
    return json_string_value(v);
}

static const char *json_str(const runner *r, json_t *obj, const char *key)
{
    const char *s = json_str_opt(r, obj, key);
    if (!s)
        die("%s.json: a command lacks member \"%s\"", r->name, key);
    return s;
}

static json_t *json_array_member(const runner *r, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_array(v))
        die("%s.json: member \"%s\" is missing or not an array", r->name, key);
    return v;
}

/* True if the command's module is in the text format (a .wat file), out of tally's scope. */
static bool module_is_text(const runner *r, json_t *cmd)
{
    const char *mt = json_str_opt(r, cmd, "module_type");
    if (mt)
        return strcmp(mt, "binary") != 0;
    const char *fn = json_str_opt(r, cmd, "filename");
    size_t n = fn ? strlen(fn) : 0;
    return n > 4 && !strcmp(fn + n - 4, ".wat");
}

/* ---- modules ----------------------------------------------------------------------------- */

/* Reads a whole file into *out (base_alloc'd). ST_OK, ST_IO_ERROR or ST_OUT_OF_MEMORY. */
static status file_read(const char *path, uint8_t **out, size_t *len)
{
    status st = ST_IO_ERROR;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ST_IO_ERROR;
    if (fseek(f, 0, SEEK_END) != 0)
        goto out_close;
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out_close;
    uint8_t *bytes = base_alloc(size > 0 ? (size_t)size : 1);
    if (!bytes) {
        st = ST_OUT_OF_MEMORY;
        goto out_close;
    }
    if (fread(bytes, 1, (size_t)size, f) != (size_t)size) {
        base_free(bytes);
        goto out_close;
    }
    *out = bytes;
    *len = (size_t)size;
    st = ST_OK;
out_close:
    fclose(f);
    return st;
}

/* Decodes and validates the module file of cmd. On failure, msg holds the formatted error.
 * A module file that cannot be read means a broken conversion: setup error. */
static status module_load(runner *r, json_t *cmd, engine_module **out, char *msg, size_t msglen)
{
    char path[PATH_LEN];
    const char *fn = json_str(r, cmd, "filename");
    if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", r->json_dir, r->name, fn) >= sizeof path)
        die("path too long: %s/%s/%s", r->json_dir, r->name, fn);
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = file_read(path, &bytes, &len);
    if (st != ST_OK)
        die("cannot read %s (%s): rebuild the spec-json target", path, status_name(st));
    engine_error err;
    memset(&err, 0, sizeof err);
    *out = NULL;
    st = engine_module_load(&r->cfg, span_of(bytes, len), out, &err);
    base_free(bytes);
    if (st != ST_OK) {
        err.st = st;
        engine_error_format(&err, msg, msglen);
    }
    return st;
}

/* ---- --instrument: the metering cross-check ---------------------------------------------- */

static void file_write(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        die("cannot write %s: %s", path, strerror(errno));
}

static void dir_make(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die("cannot create %s: %s", path, strerror(errno));
}

static void meter_path(const runner *r, const char *file, char *out, size_t outlen)
{
    if ((size_t)snprintf(out, outlen, "%s/%s", r->meter.dir, file) >= outlen)
        die("path too long: %s/%s", r->meter.dir, file);
}

/* Appends cmd (a new reference) to the wabt script. */
static void meter_append(runner *r, json_t *cmd)
{
    if (!cmd || json_array_append_new(r->meter.cmds, cmd) != 0)
        die("out of memory");
}

/* Section `id` of the `__tally` module (a vector of one entry), built in sec, appended to b. */
static status stub_section(buf *b, uint8_t id, buf *sec)
{
    static const functype void_type = {0, 0, NULL};
    static const uint8_t body[] = {0x0b}; /* end */
    const char *name = INSTRUMENT_IMPORT_NAME;
    sec->len = 0;
    status st = buf_u8(sec, 1);
    switch (id) {
    case 1: /* type 0: [] -> [] */
        if (st == ST_OK)
            st = writer_functype(sec, &void_type);
        break;
    case 3: /* function 0: type 0 */
        if (st == ST_OK)
            st = buf_u8(sec, 0);
        break;
    case 7: /* export "out_of_instructions" = function 0 */
        if (st == ST_OK)
            st = writer_name(sec, span_of(name, strlen(name)));
        if (st == ST_OK)
            st = buf_u8(sec, EXT_FUNC);
        if (st == ST_OK)
            st = buf_u8(sec, 0);
        break;
    default: /* 10, code: no locals, `end` */
        if (st == ST_OK)
            st = writer_code_entry(sec, NULL, 0, span_of(body, sizeof body));
        break;
    }
    return st == ST_OK ? writer_section(b, id, span_of(sec->ptr, sec->len)) : st;
}

/* The `__tally` module: (func (export "out_of_instructions")), which does nothing. */
static status stub_bytes(buf *b)
{
    static const uint8_t ids[] = {1, 3, 7, 10};
    buf sec = {0};
    status st = writer_header(b);
    for (size_t i = 0; st == ST_OK && i < sizeof ids; i++)
        st = stub_section(b, ids[i], &sec);
    buf_fini(&sec);
    return st;
}

/* Start of a script: OUT_DIR/NAME, the `__tally` module instantiated and registered in tally,
 * and the same two commands at the head of the wabt script. */
static void meter_script_begin(runner *r)
{
    meter *mt = &r->meter;
    if ((size_t)snprintf(mt->dir, sizeof mt->dir, "%s/%s", mt->out_dir, r->name) >= sizeof mt->dir)
        die("path too long: %s/%s", mt->out_dir, r->name);
    dir_make(mt->out_dir);
    dir_make(mt->dir);
    buf b = {0};
    engine_module *m = NULL;
    status st = stub_bytes(&b);
    if (st == ST_OK)
        st = engine_module_load(&r->cfg, span_of(b.ptr, b.len), &m, NULL);
    if (st == ST_OK)
        st = spec_env_instantiate(r->env, m, NULL);
    if (st == ST_OK)
        st = spec_env_register(r->env, NULL, INSTRUMENT_IMPORT_MODULE);
    if (st != ST_OK)
        die("the %s module: %s", INSTRUMENT_IMPORT_MODULE, status_name(st));
    char path[PATH_LEN];
    meter_path(r, "__tally.wasm", path, sizeof path);
    file_write(path, b.ptr, b.len);
    buf_fini(&b);
    mt->cmds = json_array();
    meter_append(
        r, json_pack("{s:s, s:i, s:s}", "type", "module", "line", 0, "filename", "__tally.wasm"));
    meter_append(r, json_pack("{s:s, s:i, s:s}", "type", "register", "line", 0, "as",
                              INSTRUMENT_IMPORT_MODULE));
    mt->next_id = mt->current_id = 0;
    mt->scripts++;
}

/* json_dump_callback sink that writes wast2json's dialect: wabt's JSON reader knows only the
 * \uXXXX escape, so jansson's short escapes (\\, \", \n, ...) become \u005c, \u0022, ... The
 * state carries a backslash that ends one chunk over to the next. */
typedef struct wabt_sink {
    FILE *f;
    bool escape;
} wabt_sink;

/* What jansson's escape `\c` stands for (its dump uses these and \uXXXX), or -1. */
static int escape_char(char c)
{
    switch (c) {
    case '\\': return '\\';
    case '"': return '"';
    case '/': return '/';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'f': return '\f';
    default: return -1;
    }
}

static int wabt_sink_write(const char *p, size_t n, void *data)
{
    wabt_sink *w = data;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int rc;
        if (!w->escape && c == '\\') {
            w->escape = true;
            continue;
        }
        if (!w->escape)
            rc = fputc(c, w->f);
        else if (c == 'u')
            rc = fputs("\\u", w->f);
        else if (escape_char(c) >= 0)
            rc = fprintf(w->f, "\\u%04x", (unsigned)escape_char(c));
        else
            rc = -1;
        w->escape = false;
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* End of a script: writes OUT_DIR/NAME/NAME.json and forgets the script's instances. */
static void meter_script_end(runner *r, json_t *root)
{
    meter *mt = &r->meter;
    char file[PATH_LEN], path[PATH_LEN];
    snprintf(file, sizeof file, "%s.json", r->name);
    meter_path(r, file, path, sizeof path);
    json_t *out = json_pack("{s:O, s:o}", "source_filename",
                            json_object_get(root, "source_filename"), "commands", mt->cmds);
    wabt_sink sink = {fopen(path, "w"), false};
    bool ok = out && sink.f &&
              json_dump_callback(out, wabt_sink_write, &sink, JSON_INDENT(1)) == 0 && !sink.escape;
    if ((sink.f && fclose(sink.f) != 0) || !ok)
        die("cannot write %s", path);
    json_decref(out);
    mt->cmds = NULL;
    for (size_t i = 0; i < mt->nnames; i++)
        base_free(mt->names[i].name);
    mt->nnames = mt->nstopped = 0;
}

/* The instance an action reaches: the latest one named `name`, or the current one. */
static unsigned long meter_instance(const runner *r, const char *name)
{
    const meter *mt = &r->meter;
    if (!name)
        return mt->current_id;
    for (size_t i = mt->nnames; i-- > 0;)
        if (!strcmp(mt->names[i].name, name))
            return mt->names[i].id;
    return 0;
}

static bool meter_is_stopped(const runner *r, unsigned long id)
{
    for (size_t i = 0; i < r->meter.nstopped; i++)
        if (r->meter.stopped[i] == id)
            return true;
    return false;
}

/* Reads the counter of instance `mod` (NULL: current) and appends the assert_return that
 * expects it in wabt. */
static void meter_record(runner *r, const char *mod, long long line)
{
    spec_value v;
    status st = spec_env_get(r->env, mod, INSTRUMENT_COUNTER_EXPORT, &v);
    if (st != ST_OK || v.type != VT_I64) {
        fail(r, line, "counter", "reading %s got %s", INSTRUMENT_COUNTER_EXPORT,
             st == ST_OK ? "a value that is not an i64" : status_name(st));
        return;
    }
    char value[24];
    snprintf(value, sizeof value, "%llu", (unsigned long long)v.bits);
    json_t *action = json_object();
    if (!action || json_object_set_new(action, "type", json_string("get")) != 0 ||
        (mod && json_object_set_new(action, "module", json_string(mod)) != 0) ||
        json_object_set_new(action, "field", json_string(INSTRUMENT_COUNTER_EXPORT)) != 0)
        die("out of memory");
    meter_append(r, json_pack("{s:s, s:I, s:o, s:[{s:s, s:s}]}", "type", "assert_return", "line",
                              (json_int_t)line, "action", action, "expected", "type", "i64",
                              "value", value));
    r->meter.counters++;
    note(r, line, "counter", "%s = %s", mod ? mod : "current", value);
}

/* Instruments *m (a loaded module of cmd), writes it to OUT_DIR/NAME under the command's file
 * name, reloads it into *m, and appends cmd, pointing at it, to the wabt script. False (after
 * reporting a failure, *m freed) if any step fails. */
static bool meter_module(runner *r, json_t *cmd, const char *type, long long line,
                         engine_module **m)
{
    buf b = {0};
    engine_error err;
    memset(&err, 0, sizeof err);
    status st = instrument_module(*m, ENGINE_SCHEDULE_V1, &b, &err);
    engine_module_free(*m);
    *m = NULL;
    if (st != ST_OK) {
        char msg[256];
        engine_error_format(&err, msg, sizeof msg);
        fail(r, line, type, "instrument got %s", msg);
        buf_fini(&b);
        return false;
    }
    const char *fn = json_str(r, cmd, "filename");
    char path[PATH_LEN];
    meter_path(r, fn, path, sizeof path);
    file_write(path, b.ptr, b.len);
    r->meter.modules++;
    meter_append(r, json_incref(cmd)); /* same file name, in OUT_DIR/NAME */
    memset(&err, 0, sizeof err);
    st = engine_module_load(&r->cfg, span_of(b.ptr, b.len), m, &err);
    buf_fini(&b);
    if (st != ST_OK) {
        char msg[256];
        err.st = st;
        engine_error_format(&err, msg, sizeof msg);
        fail(r, line, type, "the instrumented module does not load: %s", msg);
        return false;
    }
    return true;
}

/* A module instantiated as the current one (named `name` if not NULL): its counter after the
 * start function is the first reading. */
static void meter_instantiated(runner *r, const char *name, long long line)
{
    meter *mt = &r->meter;
    mt->current_id = ++mt->next_id;
    if (name) {
        if (mt->nnames == mt->capnames) {
            mt->capnames = mt->capnames ? 2 * mt->capnames : 16;
            mt->names = base_realloc(mt->names, mt->capnames * sizeof *mt->names);
            if (!mt->names)
                die("out of memory");
        }
        size_t n = strlen(name) + 1;
        char *copy = base_alloc(n);
        if (!copy)
            die("out of memory");
        memcpy(copy, name, n);
        mt->names[mt->nnames++] = (instance_name){copy, mt->current_id};
    }
    meter_record(r, name, line);
}

/* After an executed action command: appends it to the wabt script, then the counter reading
 * of the invoked instance; after an exhaustion, stops reading that instance's counter. */
static void meter_action(runner *r, json_t *cmd, json_t *action, long long line, bool exhausted)
{
    meter *mt = &r->meter;
    if (!mt->out_dir)
        return;
    meter_append(r, json_incref(cmd));
    if (strcmp(json_str(r, action, "type"), "invoke") != 0)
        return;
    const char *mod = json_str_opt(r, action, "module");
    unsigned long id = meter_instance(r, mod);
    if (id == 0 || meter_is_stopped(r, id))
        return;
    if (!exhausted) {
        meter_record(r, mod, line);
        return;
    }
    if (mt->nstopped == mt->capstopped) {
        mt->capstopped = mt->capstopped ? 2 * mt->capstopped : 8;
        mt->stopped = base_realloc(mt->stopped, mt->capstopped * sizeof *mt->stopped);
        if (!mt->stopped)
            die("out of memory");
    }
    mt->stopped[mt->nstopped++] = id;
    mt->stopped_total++;
}

/* `module`: must decode and validate; with execution, also instantiate and become current. */
static void cmd_module(runner *r, json_t *cmd, const char *type, long long line)
{
    if (module_is_text(r, cmd)) {
        r->t.na++;
        return;
    }
    engine_module *m = NULL;
    char msg[256];
    status st = module_load(r, cmd, &m, msg, sizeof msg);
    if (st != ST_OK) {
        r->broken_line = line;
        fail(r, line, type, "load got %s, expected OK", msg);
        return;
    }
    if (!r->exec) {
        engine_module_free(m);
        pass(r);
        return;
    }
    if (r->meter.out_dir && !meter_module(r, cmd, type, line, &m)) {
        r->broken_line = line;
        return;
    }
    const char *name = json_str_opt(r, cmd, "name");
    st = spec_env_instantiate(r->env, m, name);
    if (st != ST_OK) {
        r->broken_line = line;
        fail(r, line, type, "instantiate got %s, expected OK", status_name(st));
        return;
    }
    r->broken_line = 0;
    pass(r);
    if (r->meter.out_dir)
        meter_instantiated(r, name, line);
}

/* Counts a rejection or trap whose message and the script's text are not one a prefix of the
 * other (the reference interpreter accepts a message that starts with the text; the text may add
 * an index: "uninitialized element 2"). Not a failure: the assertion checks the class; the
 * message is compared for information (shown with -v). */
static void text_check(runner *r, long long line, const char *type, status st, const char *text)
{
    const char *msg = status_message(st);
    size_t n = strlen(msg) < strlen(text) ? strlen(msg) : strlen(text);
    if (strncmp(msg, text, n) == 0)
        return;
    r->text_diffs[status_class_of(st) == SC_TRAP]++;
    if (r->verbose)
        printf("note %s.wast:%lld %s: got %s (\"%s\"), script says \"%s\"\n", r->name, line, type,
               status_name(st), msg, text);
}

/* `assert_malformed`, `assert_invalid`: loading must fail with an INVALID-class status. */
static void cmd_assert_rejected(runner *r, json_t *cmd, const char *type, long long line)
{
    if (module_is_text(r, cmd)) {
        r->t.na++;
        return;
    }
    const char *text = json_str(r, cmd, "text");
    engine_module *m = NULL;
    char msg[256];
    status st = module_load(r, cmd, &m, msg, sizeof msg);
    if (st == ST_OK) {
        engine_module_free(m);
        fail(r, line, type, "load got OK, expected an INVALID status (\"%s\")", text);
    } else if (status_class_of(st) != SC_INVALID) {
        fail(r, line, type, "load got %s (class %s), expected an INVALID status (\"%s\")", msg,
             status_class_name(status_class_of(st)), text);
    } else {
        text_check(r, line, type, st, text);
        note(r, line, type, "\"%s\" -> %s", text, msg);
        pass(r);
    }
}

/* The link/instantiate outcome of assert_unlinkable (link error) or assert_uninstantiable and
 * module-form assert_trap (a trap). */
static void check_instantiate(runner *r, const char *type, long long line, status st,
                              const char *text)
{
    bool unlinkable = !strcmp(type, "assert_unlinkable");
    if (unlinkable && (st == ST_UNKNOWN_IMPORT || st == ST_INCOMPATIBLE_IMPORT)) {
        text_check(r, line, type, st, text);
        note(r, line, type, "\"%s\" -> %s", text, status_name(st));
        pass(r);
    } else if (!unlinkable && status_class_of(st) == SC_TRAP) {
        text_check(r, line, type, st, text);
        note(r, line, type, "\"%s\" -> %s", text, status_name(st));
        pass(r);
    } else {
        fail(r, line, type, "instantiate got %s, expected %s (\"%s\")", status_name(st),
             unlinkable ? "UNKNOWN_IMPORT or INCOMPATIBLE_IMPORT" : "a TRAP status", text);
    }
}

/* `assert_unlinkable`, `assert_uninstantiable`: the module must decode and validate; linking
 * or instantiating it must then fail. */
static void cmd_assert_link(runner *r, json_t *cmd, const char *type, long long line)
{
    if (module_is_text(r, cmd)) {
        r->t.na++;
        return;
    }
    const char *text = json_str(r, cmd, "text");
    engine_module *m = NULL;
    char msg[256];
    status st = module_load(r, cmd, &m, msg, sizeof msg);
    if (st != ST_OK) {
        fail(r, line, type, "load got %s, expected OK (the module is valid; \"%s\")", msg, text);
        return;
    }
    if (!r->exec) {
        engine_module_free(m);
        r->t.notrun++;
        return;
    }
    if (r->meter.out_dir && !meter_module(r, cmd, type, line, &m))
        return;
    check_instantiate(r, type, line, spec_env_instantiate(r->env, m, NULL), text);
}

/* ---- values ------------------------------------------------------------------------------ */

static bool valtype_parse(const char *s, uint8_t *out)
{
    static const struct {
        const char *name;
        uint8_t type;
    } types[] = {
        {"i32", VT_I32}, {"i64", VT_I64},         {"f32", VT_F32},
        {"f64", VT_F64}, {"funcref", VT_FUNCREF}, {"externref", VT_EXTERNREF},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(types); i++)
        if (!strcmp(s, types[i].name)) {
            *out = types[i].type;
            return true;
        }
    return false;
}

static const char *valtype_name(uint8_t t)
{
    switch (t) {
    case VT_I32: return "i32";
    case VT_I64: return "i64";
    case VT_F32: return "f32";
    case VT_F64: return "f64";
    case VT_FUNCREF: return "funcref";
    case VT_EXTERNREF: return "externref";
    default: return "?";
    }
}

/* A decimal string of at most `max` into *out. */
static bool u64_parse(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Parses a wast2json value {"type", "value"}. Patterns (nan:canonical, nan:arithmetic, a
 * reference without a value) are accepted only where allow_pattern. */
static bool value_parse(json_t *jv, bool allow_pattern, expected *out)
{
    json_t *jt = json_object_get(jv, "type"), *jval = json_object_get(jv, "value");
    memset(out, 0, sizeof *out);
    if (!json_is_string(jt) || !valtype_parse(json_string_value(jt), &out->v.type))
        return false;
    uint8_t t = out->v.type;
    bool is_ref = t == VT_FUNCREF || t == VT_EXTERNREF;
    if (!jval) {
        out->pat = PAT_REF_NONNULL;
        return is_ref && allow_pattern;
    }
    if (!json_is_string(jval))
        return false;
    const char *s = json_string_value(jval);
    if (is_ref && !strcmp(s, "null")) {
        out->v.is_null = true;
        return true;
    }
    if ((t == VT_F32 || t == VT_F64) && !strncmp(s, "nan:", 4)) {
        if (!allow_pattern)
            return false;
        if (!strcmp(s + 4, "canonical"))
            out->pat = PAT_NAN_CANONICAL;
        else if (!strcmp(s + 4, "arithmetic"))
            out->pat = PAT_NAN_ARITHMETIC;
        else
            return false;
        return true;
    }
    uint64_t max = t == VT_I32 || t == VT_F32 ? UINT32_MAX : UINT64_MAX;
    return u64_parse(s, max, &out->v.bits);
}

/* True if `got` satisfies e: same type, then bit-exact, or the NaN/reference pattern. */
static bool value_matches(const expected *e, const spec_value *got)
{
    if (got->type != e->v.type)
        return false;
    uint64_t bits = got->bits;
    bool f32 = e->v.type == VT_F32;
    if (e->v.type == VT_I32 || f32)
        bits &= UINT32_MAX;
    switch (e->pat) {
    case PAT_NAN_CANONICAL:
        return f32 ? (bits & 0x7fffffffu) == 0x7fc00000u
                   : (bits & 0x7fffffffffffffffu) == 0x7ff8000000000000u;
    case PAT_NAN_ARITHMETIC:
        return f32 ? (bits & 0x7fc00000u) == 0x7fc00000u
                   : (bits & 0x7ff8000000000000u) == 0x7ff8000000000000u;
    case PAT_REF_NONNULL: return !got->is_null;
    case PAT_EXACT: break;
    }
    if (e->v.type == VT_FUNCREF || e->v.type == VT_EXTERNREF)
        return got->is_null == e->v.is_null && (got->is_null || bits == e->v.bits);
    return bits == e->v.bits;
}

/* "i32:0x0000002a", "f64:0x7ff8000000000000", "externref:null", "f32:nan:canonical". */
static void value_format(const spec_value *v, pattern pat, char *out, size_t outlen)
{
    const char *tn = valtype_name(v->type);
    switch (pat) {
    case PAT_NAN_CANONICAL: snprintf(out, outlen, "%s:nan:canonical", tn); return;
    case PAT_NAN_ARITHMETIC: snprintf(out, outlen, "%s:nan:arithmetic", tn); return;
    case PAT_REF_NONNULL: snprintf(out, outlen, "%s:non-null", tn); return;
    case PAT_EXACT: break;
    }
    if ((v->type == VT_FUNCREF || v->type == VT_EXTERNREF) && v->is_null)
        snprintf(out, outlen, "%s:null", tn);
    else if (v->type == VT_I32 || v->type == VT_F32)
        snprintf(out, outlen, "%s:0x%08llx", tn, (unsigned long long)(v->bits & UINT32_MAX));
    else
        snprintf(out, outlen, "%s:0x%016llx", tn, (unsigned long long)v->bits);
}

/* ---- actions ----------------------------------------------------------------------------- */

/* Runs an action ({"type": "invoke"|"get", "module"?, "field", "args"?}) through spec_exec.h.
 * Returns the call's status (a trap status if it trapped); results in out[0..*nout). A script
 * value the runner cannot express is reported in why and returns ST_BUG_INVARIANT. */
static status action_run(runner *r, json_t *action, spec_value out[MAX_RESULTS], size_t *nout,
                         char *why, size_t whylen)
{
    const char *kind = json_str(r, action, "type");
    const char *mod = json_str_opt(r, action, "module");
    const char *field = json_str(r, action, "field");
    *nout = 0;
    if (!strcmp(kind, "get")) {
        status st = spec_env_get(r->env, mod, field, &out[0]);
        *nout = st == ST_OK ? 1 : 0;
        return st;
    }
    if (strcmp(kind, "invoke") != 0)
        die("%s.json: unknown action type \"%s\"", r->name, kind);
    json_t *jargs = json_array_member(r, action, "args");
    size_t nargs = json_array_size(jargs);
    spec_value *args = base_calloc(nargs ? nargs : 1, sizeof *args);
    if (!args)
        die("out of memory");
    status st = ST_BUG_INVARIANT;
    for (size_t i = 0; i < nargs; i++) {
        expected e;
        if (!value_parse(json_array_get(jargs, i), false, &e)) {
            snprintf(why, whylen, "argument %zu is not a value the runner supports", i);
            goto out_free;
        }
        args[i] = e.v;
    }
    *nout = MAX_RESULTS;
    st = spec_env_invoke(r->env, mod, field, args, nargs, out, nout);
    if (st != ST_OK)
        *nout = 0;
out_free:
    base_free(args);
    return st;
}

/* True if the string member `key` of obj, if any, holds no NUL byte. spec_exec.h takes names as
 * C strings, so an export named "\0..." (one assertion of names.wast) cannot be passed on. */
static bool json_str_is_c(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return !json_is_string(v) || strlen(json_string_value(v)) == json_string_length(v);
}

/* Common start of the executable commands: false (and counted) if they cannot run. */
static bool exec_ready(runner *r, json_t *action, const char *type, long long line)
{
    if (!json_is_object(action))
        die("%s.json:%lld: %s without an action", r->name, line, type);
    if (!json_str_is_c(action, "field") || !json_str_is_c(action, "module")) {
        r->t.na++;
        r->na_nul++;
        return false;
    }
    if (!r->exec) {
        r->t.notrun++;
        return false;
    }
    if (r->broken_line && !json_object_get(action, "module")) {
        fail(r, line, type, "the current module (line %lld) did not load", r->broken_line);
        return false;
    }
    return true;
}

/* Compares the results of an assert_return; returns false after reporting a failure. */
static bool results_check(runner *r, json_t *cmd, long long line, const spec_value *got,
                          size_t ngot)
{
    json_t *jexp = json_array_member(r, cmd, "expected");
    size_t nexp = json_array_size(jexp);
    if (ngot != nexp) {
        fail(r, line, "assert_return", "got %zu results, expected %zu", ngot, nexp);
        return false;
    }
    for (size_t i = 0; i < nexp; i++) {
        expected e;
        if (!value_parse(json_array_get(jexp, i), true, &e)) {
            fail(r, line, "assert_return", "expected result %zu is not a supported value", i);
            return false;
        }
        if (!value_matches(&e, &got[i])) {
            char gs[64], es[64];
            value_format(&got[i], PAT_EXACT, gs, sizeof gs);
            value_format(&e.v, e.pat, es, sizeof es);
            fail(r, line, "assert_return", "result %zu: got %s, expected %s", i, gs, es);
            return false;
        }
    }
    return true;
}

/* `assert_return`: the action must succeed with the expected results. */
static void cmd_assert_return(runner *r, json_t *cmd, const char *type, long long line)
{
    json_t *action = json_object_get(cmd, "action");
    if (!exec_ready(r, action, type, line))
        return;
    spec_value got[MAX_RESULTS];
    size_t ngot = 0;
    char why[128] = "";
    status st = action_run(r, action, got, &ngot, why, sizeof why);
    if (st != ST_OK)
        fail(r, line, type, "got %s, expected OK%s%s", status_name(st), *why ? ": " : "", why);
    else if (results_check(r, cmd, line, got, ngot))
        pass(r);
    meter_action(r, cmd, action, line, false);
}

/* `assert_trap`: the action must trap (any TRAP-class status; the message is compared for
 * information). The module form (older scripts) must fail to instantiate with a trap. */
static void cmd_assert_trap(runner *r, json_t *cmd, const char *type, long long line)
{
    if (json_object_get(cmd, "filename")) {
        cmd_assert_link(r, cmd, "assert_uninstantiable", line);
        return;
    }
    json_t *action = json_object_get(cmd, "action");
    const char *text = json_str(r, cmd, "text");
    if (!exec_ready(r, action, type, line))
        return;
    spec_value got[MAX_RESULTS];
    size_t ngot = 0;
    char why[128] = "";
    status st = action_run(r, action, got, &ngot, why, sizeof why);
    meter_action(r, cmd, action, line, false);
    if (status_class_of(st) != SC_TRAP) {
        fail(r, line, type, "got %s, expected a TRAP status (\"%s\")%s%s", status_name(st), text,
             *why ? ": " : "", why);
        return;
    }
    text_check(r, line, type, st, text);
    pass(r);
}

/* `assert_exhaustion`: the action must run out of call or value stack. */
static void cmd_assert_exhaustion(runner *r, json_t *cmd, const char *type, long long line)
{
    json_t *action = json_object_get(cmd, "action");
    if (!exec_ready(r, action, type, line))
        return;
    spec_value got[MAX_RESULTS];
    size_t ngot = 0;
    char why[128] = "";
    status st = action_run(r, action, got, &ngot, why, sizeof why);
    meter_action(r, cmd, action, line, true);
    if (st == ST_TRAP_CALL_STACK_EXHAUSTED || st == ST_TRAP_VALUE_STACK_EXHAUSTED)
        pass(r);
    else
        fail(r, line, type,
             "got %s, expected TRAP_CALL_STACK_EXHAUSTED or "
             "TRAP_VALUE_STACK_EXHAUSTED%s%s",
             status_name(st), *why ? ": " : "", why);
}

/* `action`: a bare invoke/get whose results are not checked; it must not trap. */
static void cmd_action(runner *r, json_t *cmd, const char *type, long long line)
{
    json_t *action = json_object_get(cmd, "action");
    if (!exec_ready(r, action, type, line))
        return;
    spec_value got[MAX_RESULTS];
    size_t ngot = 0;
    char why[128] = "";
    status st = action_run(r, action, got, &ngot, why, sizeof why);
    meter_action(r, cmd, action, line, false);
    if (st == ST_OK)
        pass(r);
    else
        fail(r, line, type, "got %s, expected OK%s%s", status_name(st), *why ? ": " : "", why);
}

/* `register`: makes a module importable. Not an assertion (wabt does not count it either): it
 * is counted only when it fails, and ignored without an execution back end. */
static void cmd_register(runner *r, json_t *cmd, const char *type, long long line)
{
    if (!r->exec)
        return;
    const char *name = json_str_opt(r, cmd, "name");
    const char *as = json_str(r, cmd, "as");
    if (!name && r->broken_line) {
        fail(r, line, type, "the current module (line %lld) did not load", r->broken_line);
        return;
    }
    status st = spec_env_register(r->env, name, as);
    if (st != ST_OK)
        fail(r, line, type, "got %s, expected OK", status_name(st));
    if (r->meter.out_dir)
        meter_append(r, json_incref(cmd));
}

/* ---- scripts ----------------------------------------------------------------------------- */

typedef void (*cmd_fn)(runner *r, json_t *cmd, const char *type, long long line);

static const struct {
    const char *type;
    cmd_fn fn;
} commands[] = {
    {"module", cmd_module},
    {"assert_malformed", cmd_assert_rejected},
    {"assert_invalid", cmd_assert_rejected},
    {"assert_unlinkable", cmd_assert_link},
    {"assert_uninstantiable", cmd_assert_link},
    {"assert_return", cmd_assert_return},
    {"assert_trap", cmd_assert_trap},
    {"assert_exhaustion", cmd_assert_exhaustion},
    {"action", cmd_action},
    {"register", cmd_register},
};

static void command_run(runner *r, json_t *cmd)
{
    const char *type = json_str(r, cmd, "type");
    json_t *jline = json_object_get(cmd, "line");
    long long line = json_is_integer(jline) ? (long long)json_integer_value(jline) : 0;
    for (size_t i = 0; i < BASE_ARRAY_LEN(commands); i++)
        if (!strcmp(type, commands[i].type)) {
            commands[i].fn(r, cmd, type, line);
            return;
        }
    /* A command kind this runner does not know would otherwise be skipped silently. */
    die("%s.json:%lld: unknown command type \"%s\"", r->name, line, type);
}

static void json_path(const char *json_dir, const char *name, char *out, size_t outlen)
{
    if ((size_t)snprintf(out, outlen, "%s/%s/%s.json", json_dir, name, name) >= outlen)
        die("path too long: %s/%s/%s.json", json_dir, name, name);
}

/* Runs every command of script `name`; its tallies end in r->t. */
static void script_run(runner *r, const char *name)
{
    char path[PATH_LEN];
    json_path(r->json_dir, name, path, sizeof path);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!root)
        die("%s:%d: %s", path, jerr.line, jerr.text);
    r->name = name;
    r->broken_line = 0;
    memset(&r->t, 0, sizeof r->t);
    r->env = NULL;
    if (r->exec && !(r->env = spec_env_new()))
        die("spec_env_new failed (out of memory)");
    if (r->env && r->native)
        spec_env_use_native(r->env, &r->ncfg);
    if (r->meter.out_dir)
        meter_script_begin(r);
    json_t *cmds = json_array_member(r, root, "commands");
    for (size_t i = 0; i < json_array_size(cmds); i++)
        command_run(r, json_array_get(cmds, i));
    if (r->t.failed > MAX_PRINTED_FAILURES && !r->verbose)
        printf("FAIL %s.wast: ... %lu more failures not shown (use --only %s -v)\n", name,
               r->t.failed - MAX_PRINTED_FAILURES, name);
    if (r->meter.out_dir)
        meter_script_end(r, root);
    if (r->env)
        r->native_total += spec_env_native_count(r->env);
    if (r->env)
        spec_env_free(r->env);
    r->env = NULL;
    json_decref(root);
}

/* ---- the scripts to run ------------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const file_result *)a)->name, ((const file_result *)b)->name);
}

/* Lists CORE_DIR/NAME.wast into a sorted array of results; dies if there are none. */
static file_result *scripts_list(const char *core_dir, size_t *count)
{
    DIR *d = opendir(core_dir);
    if (!d)
        die("spec testsuite directory %s: %s", core_dir, strerror(errno));
    file_result *list = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".wast") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            list = base_realloc(list, cap * sizeof *list);
            if (!list)
                die("out of memory");
        }
        memset(&list[n], 0, sizeof list[n]);
        list[n].name = base_alloc(len - 4);
        if (!list[n].name)
            die("out of memory");
        memcpy(list[n].name, e->d_name, len - 5);
        list[n].name[len - 5] = '\0';
        n++;
    }
    closedir(d);
    if (n == 0)
        die("no .wast files in %s", core_dir);
    qsort(list, n, sizeof *list, name_cmp);
    *count = n;
    return list;
}

/* Every script must have its JSON before anything runs: missing data is an error, not a skip. */
static void scripts_check(const file_result *list, size_t n, const char *json_dir)
{
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_LEN];
        struct stat sb;
        json_path(json_dir, list[i].name, path, sizeof path);
        if (stat(path, &sb) != 0) {
            fprintf(stderr, "spec_runner: missing %s\n", path);
            missing++;
        }
    }
    if (missing)
        die("%zu of %zu scripts have no JSON in %s: build the spec-json target "
            "(ninja -C BUILD tests/spec/spec-json.stamp)",
            missing, n, json_dir);
}

/* ---- main -------------------------------------------------------------------------------- */

/* The engine limits for the testsuite: tally's defaults (the suite's modules are small). */
static void runner_config(engine_config *cfg)
{
    engine_config_default(cfg);
}

static void table_print(const file_result *list, size_t n, const char *only, tallies *total)
{
    printf("\n%-28s %8s %8s %8s %8s\n", "file", "passed", "failed", "n/a", "not run");
    memset(total, 0, sizeof *total);
    for (size_t i = 0; i < n; i++) {
        const tallies *t = &list[i].t;
        if (only && strcmp(only, list[i].name) != 0)
            continue;
        printf("%-28s %8lu %8lu %8lu %8lu\n", list[i].name, t->passed, t->failed, t->na,
               t->notrun);
        total->passed += t->passed;
        total->failed += t->failed;
        total->na += t->na;
        total->notrun += t->notrun;
    }
    printf("%-28s %8lu %8lu %8lu %8lu\n\n", "total", total->passed, total->failed, total->na,
           total->notrun);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spec_runner [-v] [--only NAME] [--instrument OUT_DIR]\n"
            "                   [--tier compiled|quick|interp [--cache DIR]] CORE_DIR JSON_DIR\n"
            "  CORE_DIR  the testsuite's .wast scripts (../shared/wasm-spec/core)\n"
            "  JSON_DIR  their wast2json conversion (BUILD/tests/spec/json)\n"
            "  --only NAME  run NAME.wast only\n"
            "  -v           print every failure, passing rejections and trap notes\n"
            "  --instrument OUT_DIR  run instrumented modules (metering, schedule v1) and\n"
            "               write OUT_DIR/NAME/NAME.json: the same script for wabt's\n"
            "               spectest-interp, checking every counter value tally saw\n"
            "  --tier compiled  run every module in the compiled tier (failing if it cannot\n"
            "               be built); --tier quick the same built by tcc (the quick\n"
            "               route); --tier interp (default) the interpreter\n"
            "  --cache DIR  keep compiled objects in DIR by source hash\n");
}

int main(int argc, char **argv)
{
    runner r;
    memset(&r, 0, sizeof r);
    const char *only = NULL, *dirs[2] = {NULL, NULL}, *cache = NULL;
    int ndirs = 0;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            r.verbose = true;
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--instrument") && i + 1 < argc) {
            r.meter.out_dir = argv[++i];
        } else if (!strcmp(argv[i], "--tier") && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "compiled") && strcmp(t, "interp") && strcmp(t, "quick")) {
                usage(stderr);
                return 2;
            }
            r.native = strcmp(t, "interp") != 0;
            quick = !strcmp(t, "quick");
        } else if (!strcmp(argv[i], "--cache") && i + 1 < argc) {
            cache = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && ndirs < 2) {
            dirs[ndirs++] = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (ndirs != 2) {
        usage(stderr);
        return 2;
    }
    size_t n = 0;
    file_result *list = scripts_list(dirs[0], &n);
    scripts_check(list, n, dirs[1]);
    runner_config(&r.cfg);
    if (quick)
        engine_native_config_quick(&r.ncfg);
    else
        engine_native_config_default(&r.ncfg);
    r.ncfg.cache_dir = cache;
    r.json_dir = dirs[1];
    r.exec = spec_exec_available();
    if (r.meter.out_dir && !r.exec)
        die("--instrument needs the execution back end (spec_exec.c)");
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, list[i].name) != 0)
            continue;
        found = true;
        script_run(&r, list[i].name);
        list[i].t = r.t;
    }
    if (!found)
        die("--only %s: no %s/%s.wast", only, dirs[0], only);

    tallies total;
    table_print(list, n, only, &total);
    printf("not applicable: %lu (text-format modules: %lu, export names with a NUL byte: %lu); "
           "not run yet (%s): %lu\n",
           total.na, total.na - r.na_nul, r.na_nul,
           r.exec ? "none expected" : "no execution back end", total.notrun);
    if (r.text_diffs[0] + r.text_diffs[1])
        printf("note: %lu rejected modules and %lu traps have the right class but a message "
               "other than the script's (-v lists them)\n",
               r.text_diffs[0], r.text_diffs[1]);
    if (r.native)
        printf("compiled tier: %lu modules compiled\n", (unsigned long)r.native_total);
    if (r.meter.out_dir)
        printf("metering: %lu modules instrumented, %lu counter values recorded in %lu wabt "
               "scripts under %s; %lu instances not followed after assert_exhaustion\n",
               r.meter.modules, r.meter.counters, r.meter.scripts, r.meter.out_dir,
               r.meter.stopped_total);
    printf("%lu passed, %lu failed\n", total.passed, total.failed);
    base_free(r.meter.names);
    base_free(r.meter.stopped);
    for (size_t i = 0; i < n; i++)
        base_free(list[i].name);
    base_free(list);
    if (total.passed + total.failed == 0) {
        fprintf(stderr, "spec_runner: no assertion ran\n");
        return 1;
    }
    return total.failed ? 1 : 0;
}
