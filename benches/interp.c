/* interp.c - benchmark: a switch-dispatched stack-machine interpreter (the shape of a VM's inner
 * loop) running a small bytecode program many times: for n in 1..N, count the Collatz steps of n
 * and sum them. Exports `run() -> i32` = that sum; wasm32, no imports. */
#define N 4000

enum op { PUSH, LOAD, STORE, ADD, SUB, MUL, DIV2, AND1, DUP, DROP, JZ, JMP, LT, HALT };

/* The program, in registers r0 = n, r1 = x, r2 = total steps, r3 = N:
 *   n = 1; while (n < N) { x = n; while (x != 1) { x = (x & 1) ? 3x + 1 : x / 2; steps++; } n++; }
 * assembled at run time by `assemble` so that jump targets are computed, not hand-counted. */
static int code[128];

static int emit_at;
static void emit(int v)
{
    code[emit_at++] = v;
}

static void assemble(void)
{
    emit_at = 0;
    emit(PUSH); emit(1); emit(STORE); emit(0);              /* n = 1 */
    int loop_n = emit_at;
    emit(LOAD); emit(0); emit(LOAD); emit(3); emit(LT);     /* n < N ? */
    emit(JZ); int exit_n = emit_at; emit(0);
    emit(LOAD); emit(0); emit(STORE); emit(1);              /* x = n */
    int loop_x = emit_at;
    emit(LOAD); emit(1); emit(PUSH); emit(1); emit(SUB);    /* x - 1 == 0 ? */
    emit(JZ); int exit_x = emit_at; emit(0);
    emit(LOAD); emit(1); emit(AND1);                        /* odd? */
    emit(JZ); int even = emit_at; emit(0);
    emit(LOAD); emit(1); emit(PUSH); emit(3); emit(MUL); emit(PUSH); emit(1); emit(ADD);
    emit(JMP); int join = emit_at; emit(0);
    code[even] = emit_at;
    emit(LOAD); emit(1); emit(DIV2);
    code[join] = emit_at;
    emit(STORE); emit(1);
    emit(LOAD); emit(2); emit(PUSH); emit(1); emit(ADD); emit(STORE); emit(2); /* steps++ */
    emit(JMP); emit(loop_x);
    code[exit_x] = emit_at;
    emit(LOAD); emit(0); emit(PUSH); emit(1); emit(ADD); emit(STORE); emit(0); /* n++ */
    emit(JMP); emit(loop_n);
    code[exit_n] = emit_at;
    emit(HALT);
}

static int execute(const int *pc0, int *reg)
{
    int stack[16];
    int sp = 0;
    const int *pc = pc0;
    for (;;) {
        switch (*pc++) {
        case PUSH: stack[sp++] = *pc++; break;
        case LOAD: stack[sp++] = reg[*pc++]; break;
        case STORE: reg[*pc++] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case DIV2: stack[sp - 1] = (int)((unsigned int)stack[sp - 1] >> 1); break;
        case AND1: stack[sp - 1] &= 1; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case DROP: sp--; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case JZ: { int t = *pc++; if (stack[--sp] == 0) pc = pc0 + t; break; }
        case JMP: pc = pc0 + *pc; break;
        case HALT: return reg[2];
        default: return -1;
        }
    }
}

__attribute__((export_name("run"))) int run(void);

int run(void)
{
    int reg[4] = {0, 0, 0, N};
    assemble();
    return execute(code, reg);
}
