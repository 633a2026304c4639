//! The exact plans for the transitions ftrace makes at an s390 site.

use graft_core::{BranchKind, Codec, InsnBuf, PlanError, Step, SyncKind, TextAddr};
use graft_s390::S390;

const SER: Step = Step::Sync(SyncKind::Serialize);

fn w(addr: u64, bytes: &[u8]) -> Step {
    Step::Write { addr: TextAddr(addr), bytes: InsnBuf::new(bytes) }
}

#[test]
fn nop_to_call_writes_target_then_byte1() {
    // An 8-aligned site (ftrace_patch_branch_insn() insists on it) calling
    // ftrace_caller 0x12340 bytes away: displacement 0x91a0 halfwords.
    let at = TextAddr(0x10_0000);
    let call = S390::encode_branch(BranchKind::Call, at, TextAddr(0x11_2340)).unwrap();
    assert_eq!(call.as_slice(), &[0xc0, 0x05, 0x00, 0x00, 0x91, 0xa0]);
    let plan = S390::patch_plan(at, &S390::encode_nop(), &call).unwrap();
    // at+2 is not word-aligned: only the changed halfword is stored.
    assert_eq!(plan.steps(), &[w(0x10_0004, &[0x91, 0xa0]), SER, w(0x10_0001, &[0x05]), SER]);
    // Back: behaviour first, then the displacement to the canonical brcl 0,0.
    let back = S390::patch_plan(at, &call, &S390::encode_nop()).unwrap();
    assert_eq!(back.steps(), &[w(0x10_0001, &[0x04]), SER, w(0x10_0004, &[0, 0]), SER]);
}

#[test]
fn word_aligned_displacement_is_one_store() {
    let at = TextAddr(0x10_0002);
    let jump = S390::encode_branch(BranchKind::Jump, at, TextAddr(0x0f_0000)).unwrap();
    let plan = S390::patch_plan(at, &S390::encode_nop(), &jump).unwrap();
    assert_eq!(plan.steps(), &[w(0x10_0004, &jump.as_slice()[2..]), SER, w(0x10_0003, &[0xf4]), SER]);
}

#[test]
fn hotpatch_regime_flips_only_the_mask() {
    // ftrace_make_call()/ftrace_make_nop() without facility 85.
    let at = TextAddr(0x10_0000);
    let nop = InsnBuf::new(&[0xc0, 0x04, 0xff, 0xff, 0x00, 0x10]);
    let jg = InsnBuf::new(&[0xc0, 0xf4, 0xff, 0xff, 0x00, 0x10]);
    assert_eq!(S390::patch_plan(at, &nop, &jg).unwrap().steps(), &[w(0x10_0001, &[0xf4]), SER]);
    assert_eq!(S390::patch_plan(at, &jg, &nop).unwrap().steps(), &[w(0x10_0001, &[0x04]), SER]);
}

#[test]
fn retarget_goes_through_the_nop() {
    // ftrace_modify_call(): brasl %r0,A -> brasl %r0,B.
    let at = TextAddr(0x10_0000);
    let a = S390::encode_branch(BranchKind::Call, at, TextAddr(0x20_0000)).unwrap();
    let b = S390::encode_branch(BranchKind::Call, at, TextAddr(0xf000_1000)).unwrap();
    let plan = S390::patch_plan(at, &a, &b).unwrap();
    let s = b.as_slice();
    assert_eq!(
        plan.steps(),
        &[w(0x10_0001, &[0x04]), SER, w(0x10_0002, &s[2..4]), w(0x10_0004, &s[4..6]), SER, w(0x10_0001, &[0x05]), SER]
    );
}

#[test]
fn refusals() {
    let at = TextAddr(0x10_0000);
    let nop = S390::encode_nop();
    assert_eq!(S390::patch_plan(at, &nop, &nop), Err(PlanError::Unchanged));
    let call = S390::encode_branch(BranchKind::Call, at, TextAddr(0x10_1000)).unwrap();
    assert_eq!(S390::patch_plan(TextAddr(0x10_0001), &nop, &call), Err(PlanError::Misaligned(TextAddr(0x10_0001))));
    let short = InsnBuf::new(&[0x07, 0x07, 0x07, 0x07]);
    assert_eq!(S390::patch_plan(at, &short, &call), Err(PlanError::LengthMismatch));
    // Not a site instruction: brasl %r14 would change what the site is.
    let brasl_r14 = InsnBuf::new(&[0xc0, 0xe5, 0, 0, 0x08, 0]);
    assert_eq!(S390::patch_plan(at, &nop, &brasl_r14), Err(PlanError::LengthMismatch));
}
