/* token.c - example canister: a fungible-token ledger whose balances survive upgrades
 * (wasm32, see ic0.h).
 *
 * Accounts are 32 bytes. A principal p (at most 29 bytes) owns the account
 *   [len(p)] ++ p ++ zero bytes up to 32,
 * so a caller's account is a pure function of msg_caller; `whoami` returns it.
 *
 *   canister_init            mints TOKEN_SUPPLY to the installer's account (argument ignored)
 *   canister_update transfer argument: to[32] ++ amount (8-byte LE u64); moves amount from the
 *                            caller's account to `to` and replies the caller's new balance (u64);
 *                            rejects "bad argument" unless the argument is exactly 40 bytes,
 *                            "insufficient funds" on an overdraft, "ledger full" when `to` is new
 *                            and the table has no room
 *   canister_query balance   argument: of[32]; replies its balance (u64, 0 if unknown);
 *                            rejects "bad argument" unless the argument is exactly 32 bytes
 *   canister_query whoami    replies the caller's 32-byte account
 *   canister_query supply    replies the total supply (u64)
 *   canister_pre_upgrade     writes header + every account with a balance to stable memory
 *   canister_post_upgrade    restores them; traps if stable memory holds no ledger, so an
 *                            upgrade can never silently drop the balances
 *
 * Balances live in an open-addressing hash table (linear probing) in the heap. The hash is
 * FNV-1a over the 32 account bytes: deterministic, independent of addresses. Slots are never
 * freed (a zero balance keeps its slot); serialisation walks the slots in index order, so the
 * stable image is a pure function of the history of transfers.
 */
#include "ic0.h"

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

IC_UPDATE(transfer)
{
    uint8_t arg[ACCOUNT_SIZE + 8];
    uint8_t from[ACCOUNT_SIZE];
    if (ic0_msg_arg_data_size() != sizeof arg) {
        ic_reject("bad argument: transfer expects to[32] ++ amount[8 LE]");
        return;
    }
    ic0_msg_arg_data_copy(arg, 0, sizeof arg);
    uint64_t amount = ic_load_u64le(arg + ACCOUNT_SIZE);
    caller_account(from);

    struct slot *src = table_probe(from);
    uint64_t have = src->used ? src->balance : 0;
    if (have < amount) {
        ic_reject("insufficient funds");
        return;
    }
    if (amount == 0 || memcmp(from, arg, ACCOUNT_SIZE) == 0) {
        ic_reply_u64(have); /* nothing moves */
        return;
    }
    struct slot *dst = table_get_or_add(arg);
    if (dst == NULL) {
        ic_reject("ledger full");
        return;
    }
    src->balance -= amount; /* src->used holds: have >= amount > 0 */
    dst->balance += amount; /* cannot overflow: the sum of all balances is `supply` */
    ic_reply_u64(src->balance);
}

IC_QUERY(balance)
{
    uint8_t of[ACCOUNT_SIZE];
    if (ic0_msg_arg_data_size() != ACCOUNT_SIZE) {
        ic_reject("bad argument: balance expects an account[32]");
        return;
    }
    ic0_msg_arg_data_copy(of, 0, ACCOUNT_SIZE);
    const struct slot *s = table_probe(of);
    ic_reply_u64(s->used ? s->balance : 0);
}

IC_QUERY(whoami)
{
    uint8_t account[ACCOUNT_SIZE];
    caller_account(account);
    ic_reply_bytes(account, ACCOUNT_SIZE);
}

IC_QUERY(supply)
{
    ic_reply_u64(supply);
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
