/* opcodes.c - the instruction table expanded from opcodes.def, and the byte-to-opcode maps. */
#include "engine.h"

const opcode_info engine_opcodes[OP_COUNT] = {
#define OP(pre, code_, name, text_, imm_, shape_, sig_, w1, w2, flags_)                           \
    [OP_##name] = {pre, code_, #name, text_, imm_, shape_, sig_, w1, w2, flags_},
#include "opcodes.def"
#undef OP
};

const uint16_t engine_opcode_by_byte_[256] = {
#define OP(pre, code_, name, text_, imm_, shape_, sig_, w1, w2, flags_) OP_BYTE_##pre(code_, name)
#define OP_BYTE_0x00(code_, name) [code_] = OP_##name + 1,
#define OP_BYTE_0xFC(code_, name)
#include "opcodes.def"
#undef OP
};

const uint16_t engine_opcode_by_fc_[ENGINE_FC_COUNT] = {
#define OP(pre, code_, name, text_, imm_, shape_, sig_, w1, w2, flags_) OP_FC_##pre(code_, name)
#define OP_FC_0x00(code_, name)
#define OP_FC_0xFC(code_, name) [code_] = OP_##name + 1,
#include "opcodes.def"
#undef OP
};

uint32_t engine_opcode_weight(opcode op, int schedule)
{
    if (op >= OP_COUNT)
        return UINT32_MAX;
    switch (schedule) {
    case ENGINE_SCHEDULE_V1: return engine_opcodes[op].weight_v1;
    case ENGINE_SCHEDULE_V2: return engine_opcodes[op].weight_v2;
    default: return UINT32_MAX;
    }
}

const char *engine_unsupported_feature(uint8_t byte)
{
    switch (byte) {
    case 0xFD: return "SIMD (0xfd prefix)";
    case 0xFE: return "threads (0xfe prefix)";
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x18:
    case 0x19:
    case 0x0A: return "exception handling";
    case 0x12:
    case 0x13: return "tail calls";
    case 0x14:
    case 0x15: return "typed function references";
    case 0xD3:
    case 0xD4:
    case 0xD5:
    case 0xD6: return "typed function references";
    case 0xFB: return "GC (0xfb prefix)";
    default: return NULL;
    }
}
