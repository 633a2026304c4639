//! The int3 plan step by step, as `smp_text_poke_batch_finish()` orders it.

use graft_core::{BranchKind, Codec, InsnBuf, PlanError, Step, SyncKind, TextAddr};
use graft_x86_64::X86_64;

const SITE: TextAddr = TextAddr(0xffff_ffff_8120_4d74);
const TRAMP: TextAddr = TextAddr(0xffff_ffff_a000_2000);

fn w(addr: u64, b: &[u8]) -> Step {
    Step::Write { addr: TextAddr(addr), bytes: InsnBuf::new(b) }
}
const SYNC: Step = Step::Sync(SyncKind::SyncCores);

#[test]
fn enable_a_site() {
    let nop = X86_64::encode_nop();
    let call = X86_64::encode_branch(BranchKind::Call, SITE, TRAMP).unwrap();
    let plan = X86_64::patch_plan(SITE, &nop, &call).unwrap();
    let tail = &call.as_slice()[1..];
    assert_eq!(plan.steps(), [w(SITE.0, &[0xcc]), SYNC, w(SITE.0 + 1, tail), SYNC, w(SITE.0, &[0xe8]), SYNC]);
}

#[test]
fn disable_a_site() {
    let nop = X86_64::encode_nop();
    let jmp = X86_64::encode_branch(BranchKind::Jump, SITE, TRAMP).unwrap();
    let plan = X86_64::patch_plan(SITE, &jmp, &nop).unwrap();
    assert_eq!(
        plan.steps(),
        [w(SITE.0, &[0xcc]), SYNC, w(SITE.0 + 1, &[0x1f, 0x44, 0, 0]), SYNC, w(SITE.0, &[0x0f]), SYNC]
    );
}

#[test]
fn retarget_a_call_rewrites_the_whole_tail() {
    // Same opcode byte: the kernel still writes int3, tail, byte 0.
    let a = X86_64::encode_branch(BranchKind::Call, SITE, TRAMP).unwrap();
    let b = X86_64::encode_branch(BranchKind::Call, SITE, TextAddr(TRAMP.0 + 0x1000)).unwrap();
    assert_eq!(X86_64::patch_plan(SITE, &a, &b).unwrap().steps().len(), 6);
}

#[test]
fn kernel_skips_steps_that_change_nothing() {
    // A new first byte of int3: no third store (`if (byte == INT3_INSN_OPCODE) continue`).
    let plan = X86_64::patch_plan(SITE, &InsnBuf::new(&[0x90, 0x90]), &InsnBuf::new(&[0xcc, 0xcc])).unwrap();
    assert_eq!(plan.steps(), [w(SITE.0, &[0xcc]), SYNC, w(SITE.0 + 1, &[0xcc]), SYNC]);
    // A one-byte instruction has no tail (`len - INT3_INSN_SIZE > 0`).
    let plan = X86_64::patch_plan(SITE, &InsnBuf::new(&[0x90]), &InsnBuf::new(&[0xc3])).unwrap();
    assert_eq!(plan.steps(), [w(SITE.0, &[0xcc]), SYNC, w(SITE.0, &[0xc3]), SYNC]);
}

#[test]
fn bad_plans_are_refused() {
    let nop = X86_64::encode_nop();
    assert_eq!(X86_64::patch_plan(SITE, &nop, &nop), Err(PlanError::Unchanged));
    assert_eq!(X86_64::patch_plan(SITE, &nop, &InsnBuf::new(&[0x90])), Err(PlanError::LengthMismatch));
}
