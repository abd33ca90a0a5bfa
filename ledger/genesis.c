/* genesis.c - the genesis fields of genesis.def as a table (defaults, widening access, the
 * rules version a record names), for the codec and for tally init's options. */
#include "ledger_int.h"

#include <string.h>

#define GENESIS_FIELD(type, name, def, since, option, help)                                       \
    {#name, option, help, def##ull, (type)-1, since, offsetof(ledger_genesis, name)},
static const ledger_genesis_field fields[] = {
#include "genesis.def"
};
#undef GENESIS_FIELD

const ledger_genesis_field *ledger_genesis_fields(size_t *n)
{
    *n = BASE_ARRAY_LEN(fields);
    return fields;
}

uint64_t ledger_genesis_get(const ledger_genesis *g, const ledger_genesis_field *f)
{
    const uint8_t *p = (const uint8_t *)g + f->offset;
    if (f->max == UINT32_MAX) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

bool ledger_genesis_set(ledger_genesis *g, const ledger_genesis_field *f, uint64_t v)
{
    uint8_t *p = (uint8_t *)g + f->offset;
    if (v > f->max)
        return false;
    if (f->max == UINT32_MAX) {
        uint32_t w = (uint32_t)v;
        memcpy(p, &w, 4);
    } else {
        memcpy(p, &v, 8);
    }
    return true;
}

void ledger_genesis_default(ledger_genesis *g)
{
    memset(g, 0, sizeof *g);
    strcpy(g->chain_id, "tally-local");
    for (size_t i = 0; i < BASE_ARRAY_LEN(fields); i++)
        ledger_genesis_set(g, &fields[i], fields[i].default_value);
}

uint32_t genesis_rules_version(const ledger_genesis *g)
{
    uint32_t v = 1; /* the version that introduced the section */
    for (size_t i = 0; i < BASE_ARRAY_LEN(fields); i++)
        if (fields[i].since > v && ledger_genesis_get(g, &fields[i]) != fields[i].default_value)
            v = fields[i].since;
    return v;
}

uint32_t genesis_rules_max(void)
{
    uint32_t v = 1;
    for (size_t i = 0; i < BASE_ARRAY_LEN(fields); i++)
        if (fields[i].since > v)
            v = fields[i].since;
    return v;
}
