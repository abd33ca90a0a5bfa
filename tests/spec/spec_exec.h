/* spec_exec.h - the spec runner's execution back end: instantiate modules, invoke exports, read
 * globals, register modules for linking, with the spec's `spectest` host module available.
 * spec_runner.c uses only this interface for the executable assertion kinds (assert_return,
 * assert_trap, assert_exhaustion, assert_unlinkable, assert_uninstantiable, action, register,
 * get). spec_exec.c implements it on tally's engine; a back end whose spec_exec_available()
 * is false would make the runner count those assertions as "not run yet". */
#ifndef TALLY_SPEC_EXEC_H
#define TALLY_SPEC_EXEC_H

#include "engine.h"

/* A Wasm value as the JSON of wast2json gives it: `bits` holds the raw bit pattern of
 * i32/i64/f32/f64 (f32/f64 as IEEE bits); for VT_FUNCREF/VT_EXTERNREF `is_null` says
 * ref.null, otherwise `bits` is the externref's host value or an opaque function identity. */
typedef struct spec_value {
    uint8_t type; /* enum valtype */
    bool is_null;
    uint64_t bits;
} spec_value;

typedef struct spec_env spec_env;

/* False while execution is not implemented (then every function below returns
 * ST_BUG_INVARIANT and the runner does not call them). */
bool spec_exec_available(void);

/* A fresh environment holding the `spectest` module (registered under that name). */
spec_env *spec_env_new(void);
void spec_env_free(spec_env *env);
/* From now on every module instantiated in env runs in the compiled tier (engine.h), built with
 * cfg (copied; its strings must outlive env). A module that cannot be compiled fails to
 * instantiate with the compiler's status (never a silent fallback). */
void spec_env_use_native(spec_env *env, const engine_native_config *cfg);
/* Modules compiled so far. */
size_t spec_env_native_count(const spec_env *env);

/* Instantiates a decoded, validated module (the env takes ownership of m whatever the result)
 * and makes it the current module; `name` ("$M" from the script) may be NULL. Returns ST_OK, a
 * link status (ST_UNKNOWN_IMPORT, ST_INCOMPATIBLE_IMPORT) or a trap status from a data/elem
 * segment or the start function. */
status spec_env_instantiate(spec_env *env, engine_module *m, const char *name);

/* Makes module `name` (NULL: the current one) importable as `as`. */
status spec_env_register(spec_env *env, const char *name, const char *as);

/* Calls export `field` of module `name` (NULL: current). Up to 16 results. Returns ST_OK or the
 * trap status (ST_TRAP_*, exhaustion included). */
status spec_env_invoke(spec_env *env, const char *name, const char *field, const spec_value *args,
                       size_t nargs, spec_value *results, size_t *nresults);

/* Reads exported global `field` of module `name` (NULL: current). */
status spec_env_get(spec_env *env, const char *name, const char *field, spec_value *out);

#endif
