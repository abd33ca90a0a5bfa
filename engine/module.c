/* module.c - the life cycle of a decoded module: default static limits (engine_config),
 * decode-then-validate (engine_module_load), freeing, and error formatting. The decoder is
 * decode.c, the validator validate.c; docs/features.md explains the limits chosen here. */
#include "engine.h"

#include <stdio.h>

void engine_config_default(engine_config *cfg)
{
    *cfg = (engine_config){
        .max_module_size = 100u << 20, /* the IC's WASM_MAX_SIZE: 100 MiB */
        .max_types = 100000,
        .max_funcs = 50000, /* the IC: at most 50,000 functions */
        .max_imports = 10000,
        .max_exports = 10000,
        .max_globals = 1000, /* the IC: at most 1,000 globals */
        .max_tables = 100,
        .max_table_size = 10000000,
        .max_memory_pages = 65536, /* 4 GiB, the wasm32 maximum */
        .max_segments = 100000,
        .max_segment_elems = 10000000,
        .max_params = 1000,
        .max_locals = 50000,
        .max_func_size = 8u << 20,
        .max_nesting = 1024,
        .max_br_table = 1000000,
        .max_customs = 1000,
        .max_operand_stack = 65536,
    };
}

status engine_module_load(const engine_config *cfg, span bytes, engine_module **out,
                          engine_error *err)
{
    engine_module *m = NULL;
    status st = engine_module_decode(cfg, bytes, &m, err);
    if (st != ST_OK) {
        *out = NULL;
        return st;
    }
    st = engine_module_validate(cfg, m, err);
    if (st != ST_OK) {
        engine_module_free(m);
        *out = NULL;
        return st;
    }
    *out = m;
    return ST_OK;
}

/* Frees what the decoder allocated; also works on a partly built module (the decoder's
 * error path): every array is either NULL or allocated, with its count set when allocated. */
void engine_module_free(engine_module *m)
{
    if (!m)
        return;
    if (m->ntypes)
        base_free((void *)m->types[0].types); /* the pool of all function types */
    base_free((void *)m->types);
    base_free((void *)m->imports);
    base_free((void *)m->func_types);
    if (m->funcs)
        for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
            base_free((void *)m->funcs[i].local_types);
    base_free((void *)m->funcs);
    base_free((void *)m->tables);
    base_free((void *)m->mems);
    base_free((void *)m->globals);
    base_free((void *)m->global_inits);
    base_free((void *)m->exports);
    for (uint32_t i = 0; i < m->nelems; i++) {
        base_free((void *)m->elems[i].funcs);
        base_free((void *)m->elems[i].exprs);
    }
    base_free((void *)m->elems);
    base_free((void *)m->datas);
    base_free((void *)m->customs);
    base_free((void *)m->bytes.ptr);
    base_free(m);
}

void engine_error_format(const engine_error *err, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    if (err->offset == ENGINE_ERROR_NO_OFFSET)
        snprintf(out, outlen, "%s: %s (%s)", status_name(err->st), status_message(err->st),
                 err->detail);
    else if (err->detail[0])
        snprintf(out, outlen, "%s: %s (%s) at offset %zu", status_name(err->st),
                 status_message(err->st), err->detail, err->offset);
    else
        snprintf(out, outlen, "%s: %s at offset %zu", status_name(err->st),
                 status_message(err->st), err->offset);
}
