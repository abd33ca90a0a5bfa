/* spec_exec_stub.c - the spec runner's execution back end while tally has no interpreter:
 * spec_exec_available() is false, so spec_runner.c counts every assertion that executes code as
 * "not run yet" and never calls the other functions, which return ST_BUG_INVARIANT.
 * tests/spec/meson.build uses spec_exec.c instead as soon as that file exists. */
#include "spec_exec.h"

bool spec_exec_available(void)
{
    return false;
}

spec_env *spec_env_new(void)
{
    return NULL;
}

void spec_env_free(spec_env *env)
{
    (void)env;
}

status spec_env_instantiate(spec_env *env, engine_module *m, const char *name)
{
    (void)env;
    (void)name;
    engine_module_free(m); /* the env takes ownership whatever the result */
    return ST_BUG_INVARIANT;
}

status spec_env_register(spec_env *env, const char *name, const char *as)
{
    (void)env;
    (void)name;
    (void)as;
    return ST_BUG_INVARIANT;
}

status spec_env_invoke(spec_env *env, const char *name, const char *field, const spec_value *args,
                       size_t nargs, spec_value *results, size_t *nresults)
{
    (void)env;
    (void)name;
    (void)field;
    (void)args;
    (void)nargs;
    (void)results;
    *nresults = 0;
    return ST_BUG_INVARIANT;
}

status spec_env_get(spec_env *env, const char *name, const char *field, spec_value *out)
{
    (void)env;
    (void)name;
    (void)field;
    (void)out;
    return ST_BUG_INVARIANT;
}
