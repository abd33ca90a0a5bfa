/* token.c - example canister: a fungible-token ledger whose balances survive upgrades
 * (wasm32, see ic0.h).
 *
 *   service : {
 *     transfer : (principal, nat) -> (nat);   moves amount from the caller to `to`, replies
 *                                             the caller's new balance
 *     balance : (principal) -> (nat) query;   the balance of a principal (0 if unknown)
 *     whoami : () -> (principal) query;       the caller
 *     supply : () -> (nat) query;             the total supply
 *   }
 *
 *   canister_init            mints TOKEN_SUPPLY to the installer (argument ignored)
 *   transfer rejects "bad argument" unless the argument is (principal, nat) with an amount
 *   below 2^64, "insufficient funds" on an overdraft, "ledger full" when `to` is new and the
 *   table has no room.
 *
 * Accounts are 32 bytes: a principal p (at most 29 bytes) owns [len(p)] ++ p ++ zero bytes up
 * to 32, so a caller's account is a pure function of msg_caller.
 *   canister_pre_upgrade     writes header + every account with a balance to stable memory
 *   canister_post_upgrade    restores them; traps if stable memory holds no ledger, so an
 *                            upgrade can never silently drop the balances
 *
 * Balances live in an open-addressing hash table (linear probing) in the heap. The hash is
 * FNV-1a over the 32 account bytes: deterministic, independent of addresses. Slots are never
 * freed (a zero balance keeps its slot); serialisation walks the slots in index order, so the
 * stable image is a pure function of the history of transfers.
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : {
    transfer : (principal, nat) -> (nat);
    balance : (principal) -> (nat) query;
    whoami : () -> (principal) query;
    supply : () -> (nat) query;
});
// clang-format on

#define TOKEN_SUPPLY 1000000000ull
#define ACCOUNT_SIZE 32u
#define TABLE_SLOTS 4096u    /* power of two */
#define TABLE_MAX_USED 3072u /* 3/4 load factor */

struct slot {
    uint8_t used;
    uint8_t account[ACCOUNT_SIZE];
    uint64_t balance;
};

static struct slot table[TABLE_SLOTS];
static uint32_t table_used;
static uint64_t supply;

static uint32_t account_hash(const uint8_t *account)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ACCOUNT_SIZE; i++) {
        h ^= account[i];
        h *= 16777619u;
    }
    return h;
}

/* The slot holding `account`, or the empty slot where it would go. Never fails: the table is
 * never more than 3/4 full. */
static struct slot *table_probe(const uint8_t *account)
{
    uint32_t i = account_hash(account) & (TABLE_SLOTS - 1);
    while (table[i].used && memcmp(table[i].account, account, ACCOUNT_SIZE) != 0) {
        i = (i + 1) & (TABLE_SLOTS - 1);
    }
    return &table[i];
}

/* The slot of `account`, created with balance 0 if needed; NULL if the table is full. */
static struct slot *table_get_or_add(const uint8_t *account)
{
    struct slot *s = table_probe(account);
    if (!s->used) {
        if (table_used >= TABLE_MAX_USED) {
            return NULL;
        }
        s->used = 1;
        memcpy(s->account, account, ACCOUNT_SIZE);
        s->balance = 0;
        table_used++;
    }
    return s;
}

static void caller_account(uint8_t *account)
{
    uint32_t n = ic0_msg_caller_size();
    if (n > ACCOUNT_SIZE - 1) {
        ic_trap("token: caller principal longer than 31 bytes");
    }
    memset(account, 0, ACCOUNT_SIZE);
    account[0] = (uint8_t)n;
    ic0_msg_caller_copy(account + 1, 0, n);
}

static void table_clear(void)
{
    memset(table, 0, sizeof table);
    table_used = 0;
}

IC_INIT()
{
    uint8_t owner[ACCOUNT_SIZE];
    table_clear();
    caller_account(owner);
    table_get_or_add(owner)->balance = TOKEN_SUPPLY;
    supply = TOKEN_SUPPLY;
}

/* The account of principal p[0..n). */
static void account_of(uint8_t *account, const uint8_t *p, uint32_t n)
{
    memset(account, 0, ACCOUNT_SIZE);
    account[0] = (uint8_t)n; /* n <= 29: ic_cr_principal checks it */
    memcpy(account + 1, p, n);
}

IC_UPDATE(transfer)
{
    uint8_t arg[128], to[ACCOUNT_SIZE], from[ACCOUNT_SIZE];
    const uint8_t *p;
    uint32_t n;
    uint64_t amount;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_principal(&r, &p, &n) ||
        !ic_cr_nat(&r, &amount) || !ic_cr_done(&r)) {
        ic_reject("bad argument: transfer expects (principal, nat) below 2^64");
        return;
    }
    account_of(to, p, n);
    caller_account(from);

    struct slot *src = table_probe(from);
    uint64_t have = src->used ? src->balance : 0;
    if (have < amount) {
        ic_reject("insufficient funds");
        return;
    }
    if (amount == 0 || memcmp(from, to, ACCOUNT_SIZE) == 0) {
        ic_reply_nat(have); /* nothing moves */
        return;
    }
    struct slot *dst = table_get_or_add(to);
    if (dst == NULL) {
        ic_reject("ledger full");
        return;
    }
    src->balance -= amount; /* src->used holds: have >= amount > 0 */
    dst->balance += amount; /* cannot overflow: the sum of all balances is `supply` */
    ic_reply_nat(src->balance);
}

IC_QUERY(balance)
{
    uint8_t arg[64], of[ACCOUNT_SIZE];
    const uint8_t *p;
    uint32_t n;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_principal(&r, &p, &n) || !ic_cr_done(&r)) {
        ic_reject("bad argument: balance expects (principal)");
        return;
    }
    account_of(of, p, n);
    const struct slot *s = table_probe(of);
    ic_reply_nat(s->used ? s->balance : 0);
}

IC_QUERY(whoami)
{
    uint8_t account[ACCOUNT_SIZE];
    caller_account(account);
    ic_reply_principal(account + 1, account[0]);
}

IC_QUERY(supply)
{
    ic_reply_nat(supply);
}

/* Stable image: "TOK1" | u32 count | u64 supply | count x (account[32] | u64 balance), LE. */
#define IMAGE_HEADER 16u
#define IMAGE_RECORD (ACCOUNT_SIZE + 8u)

IC_PRE_UPGRADE()
{
    uint8_t rec[IMAGE_RECORD];
    uint32_t count = 0;
    uint64_t off = IMAGE_HEADER;
    ic_stable_ensure(IMAGE_HEADER + (uint64_t)table_used * IMAGE_RECORD);
    for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
        if (!table[i].used || table[i].balance == 0) {
            continue;
        }
        memcpy(rec, table[i].account, ACCOUNT_SIZE);
        ic_store_u64le(rec + ACCOUNT_SIZE, table[i].balance);
        ic_stable_write(off, rec, IMAGE_RECORD);
        off += IMAGE_RECORD;
        count++;
    }
    uint8_t head[IMAGE_HEADER] = {'T', 'O', 'K', '1'};
    ic_store_u32le(head + 4, count);
    ic_store_u64le(head + 8, supply);
    ic_stable_write(0, head, IMAGE_HEADER);
}

IC_POST_UPGRADE()
{
    uint8_t head[IMAGE_HEADER];
    uint8_t rec[IMAGE_RECORD];
    if (ic0_stable64_size() == 0) {
        ic_trap("token: no ledger in stable memory");
    }
    ic_stable_read(head, 0, IMAGE_HEADER);
    if (memcmp(head, "TOK1", 4) != 0) {
        ic_trap("token: no ledger in stable memory");
    }
    uint32_t count = ic_load_u32le(head + 4);
    if (count > TABLE_MAX_USED) {
        ic_trap("token: stable ledger larger than the table");
    }
    table_clear();
    supply = ic_load_u64le(head + 8);
    for (uint32_t i = 0; i < count; i++) {
        ic_stable_read(rec, IMAGE_HEADER + (uint64_t)i * IMAGE_RECORD, IMAGE_RECORD);
        table_get_or_add(rec)->balance = ic_load_u64le(rec + ACCOUNT_SIZE);
    }
}
