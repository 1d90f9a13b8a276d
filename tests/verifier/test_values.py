"""Register and stack states render back to the kernel's exact text.

The render test walks every printed state of every log in data/logs (6.18, captured live) and
the shared corpus: each register and stack token is decoded, rendered, and compared with the
original character for character. On 6.x logs every token must go through the modern printer
(no ``legacy`` fallback); the 4.x/5.x corpus files may use the fallback, counted in the output.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfkit.errors import LogError
from bpfkit.verifier import RegState, parse_reg, parse_slot, parse_state
from bpfkit.verifier.grammar import classify
from bpfkit.verifier.log import read_text
from bpfkit.verifier.values import render_state

from .conftest import ALL_LOG_FILES, RENDER_TALLY, cached_logs, log_id

# Corpus files whose states predate the 6.x printer or were edited (anonymized addresses).
_OLD_FORMAT = {
    "12_direct_packet_access_fragment.log",  # 4.x: inv, imm, (id=0,off=0,r=14)
    "08_misaligned_access.log",
    "09_branch_from_5_to_8.log",
    "analyzer.test.ts.verifierLogFragmentWithASubprogramCall.log",  # 6.1: (off=0,imm=0)
    "2023-10-11_nakryiko_linked_list_fail_pop_front_off.reflowed.log",
    "2023-10-25_marchevsky_scx_flatcg_refcount_acquire.fragment.log",
    "invalid-R0.log",  # 5.x: ctx(id=0,off=0,imm=0)
    # bpfix anonymized every kernel address and large hex number to 0xffff000000000000, even
    # inside ranges (e.g. "smin=0,smax=umax=0xffff000000000000": a kernel never merges a
    # negative smax with umax), so these tokens are not the kernel's text any more
    "rs_eunomia_http_doff_copy_bound_001.verifier.log",
    "rs_actplane_cap_dynptr_payload_null_001.verifier.log",
    "rs_cilium_proxy_skc_assign_ref_leak_001.verifier.log",
    "rs_tutorial_dynptr_tc_ref_leak_001.verifier.log",
}


def _states(path: Path) -> list[tuple[int, str]]:
    out = []
    for n, line in enumerate(read_text(path).split("\n"), 1):
        ln = classify(line)
        if ln.state:
            out.append((n, ln.state))
    return out


@pytest.mark.parametrize("path", ALL_LOG_FILES, ids=log_id)
def test_render_every_state_exactly(path: Path) -> None:
    legacy = []
    n_regs = n_slots = 0
    for n, text in _states(path):
        state = parse_state(text)
        assert render_state(state) == text, f"{path}:{n}"
        for regno, reg, raw in state.regs:
            n_regs += 1
            key, _, value = raw.partition("=")
            assert reg.render() == value, f"{path}:{n}: {raw}"
            assert key.startswith(f"R{regno}")
            if reg.legacy is not None:
                legacy.append(raw)
        for slot, raw in state.slots:
            n_slots += 1
            assert slot.render() == raw.partition("=")[2], f"{path}:{n}: {raw}"
            if slot.spilled is not None and slot.spilled.legacy is not None:
                legacy.append(raw)
    RENDER_TALLY["register tokens"] += n_regs
    RENDER_TALLY["stack tokens"] += n_slots
    RENDER_TALLY["legacy (old format) tokens"] += len(legacy)
    if path.name not in _OLD_FORMAT:
        assert not legacy, f"{path}: the 6.x printer did not reproduce {legacy[:5]}"


def test_data_logs_have_states() -> None:
    from tests.corpus import DATA_LOG_FILES

    if not DATA_LOG_FILES:
        pytest.skip("data/logs not captured yet (make -C data logs)")
    assert sum(len(_states(p)) for p in DATA_LOG_FILES) > 1000


def test_constant_loads_decode_to_the_loaded_value() -> None:
    """Oracle: the kernel's own disassembly. After ``(b7) rN = IMM`` (mov64 imm) the state it
    prints must decode to a known scalar IMM in every range and in var_off."""
    pat = re.compile(r"r(\d+) = (-?\d+|0x[0-9a-f]+)$")
    checked = 0
    logs = [lg for p in ALL_LOG_FILES if p.name not in _OLD_FORMAT for lg in cached_logs(p)]
    for lg in logs:
        for line in lg.lines.itertuples():
            if line.kind != "insn_state":
                continue
            ln = classify(line.text)
            m = pat.match(ln.asm or "")
            if m is None or ln.opcode != "b7":
                continue
            regno, imm = int(m.group(1)), int(m.group(2), 0)
            st_ = parse_state(ln.state or "")
            regs = {r: reg for r, reg, _ in st_.regs}
            if regno not in regs:
                continue
            r = regs[regno]
            assert r.type == "scalar" and r.is_const, line.text
            assert r.smin == r.smax == imm
            assert r.umin == r.umax == imm % (1 << 64)
            assert r.var_off_value == imm % (1 << 64) and r.var_off_mask == 0
            assert r.smin32 == r.smax32 == ((imm + (1 << 31)) % (1 << 32)) - (1 << 31)
            checked += 1
    RENDER_TALLY["mov64 imm states checked"] = checked
    assert checked > 100


# ---- round trips of the decoder over its whole input space ----

_S64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@st.composite
def _scalar_texts(draw: st.DrawFn) -> RegState:
    """Scalar states as the verifier keeps them: ranges consistent with a tnum."""
    value = draw(st.integers(min_value=0, max_value=(1 << 64) - 1))
    mask = draw(st.integers(min_value=1, max_value=(1 << 64) - 1))
    value &= ~mask
    lo, hi = value, value | mask
    s = lambda v: v - (1 << 64) if v >> 63 else v  # noqa: E731
    s32 = lambda v: (v & 0xFFFFFFFF) - (1 << 32) if v & 0x80000000 else v & 0xFFFFFFFF  # noqa: E731
    umin = draw(st.sampled_from([0, lo]))
    umax = draw(st.sampled_from([(1 << 64) - 1, hi]))
    ident = draw(st.integers(min_value=0, max_value=50))
    add_const = ident > 0 and draw(st.booleans())  # BPF_ADD_CONST: "id=3+8"
    return RegState(
        type="scalar",
        id=ident,
        add_const=add_const,
        off=draw(st.integers(-(1 << 31), (1 << 31) - 1)) if add_const else 0,
        precise=draw(st.booleans()),
        smin=draw(st.sampled_from([-(1 << 63), s(lo) if s(lo) <= s(hi) else -(1 << 63)])),
        smax=draw(st.sampled_from([(1 << 63) - 1, s(hi) if s(lo) <= s(hi) else (1 << 63) - 1])),
        umin=umin,
        umax=umax,
        smin32=draw(st.sampled_from([-(1 << 31), min(s32(lo), s32(hi))])),
        smax32=draw(st.sampled_from([(1 << 31) - 1, max(s32(lo), s32(hi))])),
        umin32=draw(st.sampled_from([0, lo & 0xFFFFFFFF])),
        umax32=draw(st.sampled_from([0xFFFFFFFF, hi & 0xFFFFFFFF])),
        var_off_value=value,
        var_off_mask=mask,
    )


@settings(max_examples=500, deadline=None)
@given(_scalar_texts())
def test_scalar_render_parse_round_trip(reg: RegState) -> None:
    text = reg.render()
    back = parse_reg(text)
    assert back.legacy is None
    assert back.render() == text
    for f in (
        "smin",
        "smax",
        "umin",
        "umax",
        "smin32",
        "smax32",
        "umin32",
        "umax32",
        "var_off_value",
        "var_off_mask",
        "id",
        "precise",
    ):
        assert getattr(back, f) == getattr(reg, f), (f, text)


@settings(max_examples=300, deadline=None)
@given(_S64)
def test_constant_round_trip(v: int) -> None:
    r = parse_reg(str(v) if -32768 <= v <= 32767 else hex(v % (1 << 64)))
    assert r.smin == v and r.render() == (str(v) if -32768 <= v <= 32767 else hex(v % (1 << 64)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_garbage_gives_log_error_only(text: str) -> None:
    for fn in (parse_reg, parse_slot, parse_state):
        with contextlib.suppress(LogError):
            fn(text)


def test_pointer_fields() -> None:
    # tokens copied from data/logs-style 6.18 states; every field read back from the text
    r = parse_reg("ptr_or_null_node_data(id=9,ref_obj_id=9,off=16)")
    assert (r.type, r.or_null, r.btf_type, r.id, r.ref_obj_id, r.off) == (
        "ptr_",
        True,
        "node_data",
        9,
        9,
        16,
    )
    r = parse_reg("ptr_node_data(non_own_ref,off=16)")
    assert r.non_own_ref and r.off == 16 and not r.or_null
    r = parse_reg("untrusted_ptr_or_null_cgv_node(id=11)")
    assert r.flags == ("untrusted",) and r.btf_type == "cgv_node"
    r = parse_reg("rcu_ptr_task_struct()")
    assert r.flags == ("rcu",)
    r = parse_reg("percpu_rcu_ptr_foo()")
    assert r.flags == ("percpu", "rcu")
    r = parse_reg("fp[1]-64")
    assert (r.type, r.frameno, r.off) == ("fp", 1, -64)
    r = parse_reg(
        "pkt(id=1,off=14,r=34,smin=umin=smin32=umin32=20,smax=umax=smax32=umax32=60,var_off=(0x0; 0x3c))"
    )
    assert (r.range, r.umin, r.umax32, r.var_off_mask) == (34, 20, 60, 0x3C)
    r = parse_reg("map_value_or_null(id=1,map=skb_map,ks=4,vs=8)")
    assert (r.type, r.or_null, r.map_name, r.ks, r.vs) == ("map_value", True, "skb_map", 4, 8)
    r = parse_reg("ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=4)")
    assert (r.type, r.flags, r.or_null, r.mem_size) == ("mem", ("ringbuf",), True, 4)


def test_stack_slots() -> None:
    s = parse_slot(
        "mmmmscalar(id=10,smin=0,smax=umax=0xffff000000000000,var_off=(0x0; 0xffff000000000000))"
    )
    assert s.slot_types == "mmmmrrrr" and s.spilled is not None and s.spilled.id == 10
    s = parse_slot("dynptr_ringbuf(id=11,ref_id=12,dynptr_id=1)")
    assert s.special == "dynptr_ringbuf" and dict(s.attrs)["ref_id"] == "12"
    s = parse_slot("0???0")
    assert s.slot_types == "0???rrrr" and s.spilled is not None and s.spilled.umax == 0
    with pytest.raises(LogError):
        parse_slot("mmmm")


@pytest.mark.parametrize(
    ("text", "precise", "umax"),
    [
        # 4.x/5.x spellings (kernel docs, cilium/ebpf and selftest logs of those kernels)
        ("inv1", False, 1),
        ("invP5", True, 5),
        ("invP(id=0,umax_value=3,var_off=(0x0; 0x3))", True, 3),
        ("inv(id=0,umax_value=255,var_off=(0x0; 0xff))", False, 255),
        ("imm0", False, 0),
    ],
)
def test_old_scalar_spellings(text: str, precise: bool, umax: int) -> None:
    r = parse_reg(text)
    assert (r.type, r.precise, r.umax) == ("scalar", precise, umax)
    assert r.legacy == text and r.render() == text


def test_unknown_type_names_are_errors() -> None:
    for text in ("invalid", "mmmm", "foo(id=1)", "ptr"):
        with pytest.raises(LogError):
            parse_reg(text)


_MODERN_BASES = [
    "ctx",
    "map_ptr",
    "map_value",
    "fp",
    "pkt",
    "pkt_meta",
    "pkt_end",
    "flow_keys",
    "sock",
    "sock_common",
    "tcp_sock",
    "tp_buffer",
    "xdp_sock",
    "ptr_",
    "mem",
    "buf",
    "func",
    "map_key",
    "dynptr_ptr",
]
_IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)


@st.composite
def _pointer_states(draw: st.DrawFn) -> RegState:
    """Pointer states with the attributes print_reg_state() prints for each type."""
    base = draw(st.sampled_from(_MODERN_BASES))
    # type flags exist on PTR_TO_BTF_ID, PTR_TO_MEM and PTR_TO_BUF (MEM_RDONLY, MEM_RINGBUF,
    # MEM_USER, MEM_PERCPU, MEM_RCU, PTR_UNTRUSTED, PTR_TRUSTED)
    flags = tuple(
        f
        for f in ("rdonly", "ringbuf", "user", "percpu", "rcu", "untrusted", "trusted")
        if base in ("ptr_", "mem", "buf") and draw(st.booleans()) and draw(st.booleans())
    )
    map_like = base in ("map_ptr", "map_value", "map_key")
    value = draw(st.integers(min_value=0, max_value=(1 << 64) - 1))
    const = draw(st.booleans())
    # not (0; all ones): a pointer whose offset is wholly unknown prints like offset 0
    mask = 0 if const else draw(st.integers(min_value=1, max_value=(1 << 64) - 2))
    value &= ~mask
    if base == "fp" and const:
        value = 0  # a stack pointer's fixed offset is ``off`` (printed as fp-8)
    return RegState(
        type=base,
        flags=flags,
        # PTR_MAYBE_NULL exists on the pointers a helper/kfunc may return as NULL
        or_null=base in ("ptr_", "map_value", "mem", "sock", "sock_common", "tcp_sock", "buf")
        and draw(st.booleans()),
        btf_type=draw(_IDENT) if base == "ptr_" else None,
        frameno=draw(st.one_of(st.none(), st.integers(0, 8))) if base == "fp" else None,
        id=draw(st.integers(0, 1000)),
        ref_obj_id=draw(st.integers(0, 1000)),
        non_own_ref=draw(st.booleans()),
        map_name=draw(st.one_of(st.none(), _IDENT)) if map_like else None,
        ks=draw(st.integers(0, 1 << 16)) if map_like else None,
        vs=draw(st.integers(0, 1 << 20)) if map_like else None,
        off=draw(st.integers(-512, 0))
        if base == "fp"
        else draw(st.integers(-(1 << 31), (1 << 31) - 1)),
        range=draw(st.integers(0, 1 << 16)) if base in ("pkt", "pkt_meta", "pkt_end") else None,
        mem_size=draw(st.integers(0, 1 << 20)) if base == "mem" else None,
        dynptr_type=draw(st.sampled_from(["local", "ringbuf", "skb", "xdp"]))
        if base == "dynptr_ptr"
        else None,
        smin=None if const else -(1 << 63),
        smax=None if const else (1 << 63) - 1,
        umin=None if const else 0,
        umax=None if const else (1 << 64) - 1,
        smin32=None if const else -(1 << 31),
        smax32=None if const else (1 << 31) - 1,
        umin32=None if const else 0,
        umax32=None if const else (1 << 32) - 1,
        var_off_value=value,
        var_off_mask=mask,
    )


_FIELDS = (
    "type",
    "flags",
    "or_null",
    "btf_type",
    "id",
    "ref_obj_id",
    "non_own_ref",
    "map_name",
    "ks",
    "vs",
    "range",
    "mem_size",
    "dynptr_type",
    "var_off_mask",
)


@settings(max_examples=500, deadline=None)
@given(_pointer_states())
def test_pointer_render_parse_round_trip(reg: RegState) -> None:
    text = reg.render()
    if reg.type == "fp" and reg.var_off_mask == 0:
        return  # fp<N>: offset and var_off print as one number
    back = parse_reg(text)
    assert back.legacy is None, text
    assert back.render() == text
    for f in _FIELDS:
        want = getattr(reg, f)
        if f == "map_name" and not want:
            want = None
        assert getattr(back, f) == want, (f, text)
    if reg.var_off_mask:
        assert back.var_off_value == reg.var_off_value
    else:
        assert back.var_off_value == reg.var_off_value  # imm=
    assert back.off == reg.off


@st.composite
def _slots(draw: st.DrawFn) -> str:
    """Stack slot texts as print_verifier_state() forms them."""
    kind = draw(st.sampled_from(["misc", "spill", "dynptr", "iter"]))
    if kind == "misc":
        return "".join(draw(st.lists(st.sampled_from("?m0f"), min_size=8, max_size=8)))
    if kind == "spill":
        n = draw(st.sampled_from([0, 4, 6, 7]))
        prefix = "".join(draw(st.lists(st.sampled_from("?m0"), min_size=n, max_size=n)))
        reg = draw(st.one_of(_scalar_texts(), _pointer_states()))
        return prefix + reg.render()
    if kind == "dynptr":
        t = draw(st.sampled_from(["local", "ringbuf", "skb", "xdp"]))
        attrs = [
            f"{k}={draw(st.integers(1, 99))}"
            for k in ("id", "ref_id", "dynptr_id")
            if draw(st.booleans())
        ]
        return f"dynptr_{t}(" + ",".join(attrs) + ")"
    state = draw(st.sampled_from(["active", "drained"]))
    return (
        f"iter_num(ref_id={draw(st.integers(1, 99))},state={state},depth={draw(st.integers(0, 9))})"
    )


@settings(max_examples=400, deadline=None)
@given(_slots(), st.integers(min_value=1, max_value=64))
def test_stack_slot_round_trip(text: str, slot: int) -> None:
    s = parse_slot(text, off=-8 * slot)
    assert s.render() == text
    assert len(s.slot_types) == 8 and set(s.slot_types) <= set("?rm0dif")
    if s.spilled is not None:
        assert s.slot_types.endswith("r") and s.slot_types.startswith(s.prefix)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.integers(1, 8)),
    st.lists(st.tuples(st.integers(0, 10), _scalar_texts()), max_size=6, unique_by=lambda t: t[0]),
    st.lists(_slots(), max_size=4),
    st.lists(st.integers(1, 999), max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_state_line_round_trip(
    frame: int | None,
    regs: list[tuple[int, RegState]],
    slots: list[str],
    refs: list[int],
    cb: bool,
    async_cb: bool,
) -> None:
    text = f" frame{frame}:" if frame else ""
    text += "".join(f" R{n}={r.render()}" for n, r in sorted(regs, key=lambda t: t[0]))
    text += "".join(f" fp{-8 * (i + 1)}={s}" for i, s in enumerate(slots))
    if refs:
        text += " refs=" + ",".join(map(str, refs))
    text += " cb" * cb + " async_cb" * async_cb
    if not text:
        return
    st_ = parse_state(text)
    assert render_state(st_) == text
    assert (
        st_.frame == frame and list(st_.refs) == refs and (st_.cb, st_.async_cb) == (cb, async_cb)
    )
