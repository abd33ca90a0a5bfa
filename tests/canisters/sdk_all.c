/* sdk_all.c - a canister that imports every function ic0.h declares, so that check_wasm.sh can
 * compare each import's Wasm signature with host-api/ic0.def (the header and the table must
 * agree). `canister_update all` calls each once with harmless arguments; it is a build fixture,
 * not a meaningful program (run in tally it traps at the first call not allowed in an update,
 * e.g. msg_reject_code).
 */
#include "ic0.h"

static uint8_t buf[64];
static uint64_t sink;

static void message_calls(void)
{
    sink += ic0_msg_arg_data_size();
    ic0_msg_arg_data_copy(buf, 0, 0);
    sink += ic0_msg_caller_size();
    ic0_msg_caller_copy(buf, 0, 0);
    sink += ic0_msg_caller_info_data_size();
    ic0_msg_caller_info_data_copy(buf, 0, 0);
    sink += ic0_msg_caller_info_signer_size();
    ic0_msg_caller_info_signer_copy(buf, 0, 0);
    sink += ic0_msg_reject_code();
    sink += ic0_msg_reject_msg_size();
    ic0_msg_reject_msg_copy(buf, 0, 0);
    sink += ic0_msg_deadline();
    sink += ic0_msg_method_name_size();
    ic0_msg_method_name_copy(buf, 0, 0);
    ic0_accept_message();
}

static void canister_calls(void)
{
    sink += ic0_canister_cycle_balance();
    ic0_canister_cycle_balance128(buf);
    ic0_canister_liquid_cycle_balance128(buf);
    ic0_cycles_burn128(0, 0, buf);
    sink += ic0_msg_cycles_available();
    ic0_msg_cycles_available128(buf);
    sink += ic0_msg_cycles_refunded();
    ic0_msg_cycles_refunded128(buf);
    sink += ic0_msg_cycles_accept(0);
    ic0_msg_cycles_accept128(0, 0, buf);
    sink += ic0_canister_self_size();
    ic0_canister_self_copy(buf, 0, 0);
    sink += ic0_canister_status();
    sink += ic0_canister_version();
    sink += ic0_subnet_self_size();
    ic0_subnet_self_copy(buf, 0, 0);
    sink += ic0_stable_size();
    sink += ic0_stable_grow(0);
    ic0_stable_write(0, buf, 0);
    ic0_stable_read(buf, 0, 0);
    sink += ic0_stable64_size();
    sink += ic0_stable64_grow(0);
    ic0_stable64_write(0, (uint64_t)(__UINTPTR_TYPE__)buf, 0);
    ic0_stable64_read((uint64_t)(__UINTPTR_TYPE__)buf, 0, 0);
    ic0_certified_data_set(buf, 0);
    sink += ic0_data_certificate_present();
    sink += ic0_data_certificate_size();
    ic0_data_certificate_copy(buf, 0, 0);
    sink += ic0_time();
    sink += ic0_global_timer_set(0);
    sink += ic0_performance_counter(IC0_COUNTER_INSTRUCTIONS);
    sink += ic0_is_controller(buf, 0);
    sink += ic0_in_replicated_execution();
    sink += ic0_env_var_count();
    sink += ic0_env_var_name_size(0);
    ic0_env_var_name_copy(0, buf, 0, 0);
    sink += ic0_env_var_name_exists(buf, 0);
    sink += ic0_env_var_value_size(buf, 0);
    ic0_env_var_value_copy(buf, 0, buf, 0, 0);
    ic0_debug_print(buf, 0);
}

static void on_any(uint32_t env)
{
    sink += env;
}

static void call_calls(void)
{
    sink += ic0_msg_cycles_available();
    ic0_msg_cycles_available128(buf);
    sink += ic0_msg_cycles_refunded();
    ic0_msg_cycles_refunded128(buf);
    sink += ic0_msg_cycles_accept(0);
    ic0_msg_cycles_accept128(0, 0, buf);
    ic0_call_new(buf, 0, buf, 0, IC_FN(on_any), 0, IC_FN(on_any), 0);
    ic0_call_data_append(buf, 0);
    ic0_call_on_cleanup(IC_FN(on_any), 0);
    ic0_call_with_best_effort_response(10);
    ic0_call_cycles_add(0);
    ic0_call_cycles_add128(0, 0);
    sink += ic0_call_perform();
}

IC_UPDATE(all)
{
    message_calls();
    canister_calls();
    call_calls();
    ic_store_u64le(buf, sink);
    ic0_msg_reply_data_append(buf, 8);
    ic0_msg_reply();
    ic0_msg_reject(buf, 0);
    ic0_trap(buf, 0);
}
