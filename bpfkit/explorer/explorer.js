// bpfkit verifier-log explorer: one front end for the notebook widget (anywidget) and the
// static report page. Plain JavaScript, no third-party code, no network.
//
// Data: the compact columns of bpfkit.explorer.explorer_data (format version 1).
// Host: an object with get(name), set(name, value), save_changes(), on(event, fn) -- an
// anywidget model, or the small static model made by bpfkitExplorerStatic().
// Test hook: every explorer registers an API in window.bpfkitExplorers (and el.bpfkitExplorer).

"use strict";

const BPFKIT_EXPLORER_VERSION = 1;
const ROW_H = 18;

function bx(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// A virtualised list: only the visible rows exist in the DOM.
class VList {
  constructor(parent, count, renderRow, cls) {
    this.count = count;
    this.renderRow = renderRow;
    this.box = bx("div", "bpfx-vlist " + (cls || ""));
    this.spacer = bx("div", "bpfx-spacer");
    this.spacer.style.height = count * ROW_H + "px";
    this.box.appendChild(this.spacer);
    parent.appendChild(this.box);
    this.rows = new Map();
    this.marked = new Set();
    this.box.addEventListener("scroll", () => this.draw());
  }
  draw() {
    const h = this.box.clientHeight || 400;
    const first = Math.max(0, Math.floor(this.box.scrollTop / ROW_H) - 8);
    const last = Math.min(this.count, first + Math.ceil(h / ROW_H) + 16);
    for (const [i, row] of this.rows) {
      if (i < first || i >= last) { row.remove(); this.rows.delete(i); }
    }
    for (let i = first; i < last; i++) {
      let row = this.rows.get(i);
      if (!row) {
        row = this.renderRow(i);
        row.style.top = i * ROW_H + "px";
        this.spacer.appendChild(row);
        this.rows.set(i, row);
      }
      this.paint(i, row);
    }
  }
  paint(i, row) {
    row.classList.toggle("bpfx-sel", this.sel === i);
    row.classList.toggle("bpfx-mark", this.marked.has(i));
  }
  refresh() { for (const [i, row] of this.rows) this.paint(i, row); }
  select(i, scroll) {
    this.sel = i;
    if (scroll && i >= 0) {
      const top = i * ROW_H, h = this.box.clientHeight || 400;
      if (top < this.box.scrollTop || top > this.box.scrollTop + h - ROW_H) {
        this.box.scrollTop = Math.max(0, top - h / 3);
      }
    }
    this.draw();
  }
}

class Explorer {
  constructor(el, model) {
    this.el = el;
    this.model = model;
    const raw = model.get("data");
    const d = typeof raw === "string" ? JSON.parse(raw) : raw;
    if (!d || d.v !== BPFKIT_EXPLORER_VERSION) {
      throw new Error("bpfkit explorer: data format " + (d && d.v) + ", expected " + BPFKIT_EXPLORER_VERSION);
    }
    this.d = d;
    this.index();
    this.build();
    const start = model.get("step");
    this.select(typeof start === "number" && start >= 0 ? start : this.defaultStep(), false);
    this.readyAt = performance.now();
    if (model.on) model.on("change:step", () => {
      const s = model.get("step");
      if (s !== this.step && s >= 0 && s < this.nSteps) this.select(s, false);
    });
  }

  // ------------------------------------------------------------------ indexes
  index() {
    const d = this.d;
    this.nSteps = d.steps.insn.length;
    this.insnRow = new Map();
    d.insns.idx.forEach((x, i) => this.insnRow.set(x, i));
    // visits of each instruction, in step order
    this.visits = new Map();
    const si = d.steps.insn;
    for (let s = 0; s < this.nSteps; s++) {
      let v = this.visits.get(si[s]);
      if (!v) { v = []; this.visits.set(si[s], v); }
      v.push(s);
    }
    // states: last state index of each step (states are in log order, steps non-decreasing)
    const st = d.states.step;
    this.lastState = new Int32Array(this.nSteps).fill(-1);
    this.firstState = new Int32Array(this.nSteps).fill(-1);
    for (let k = 0; k < st.length; k++) {
      const s = st[k];
      if (s >= 0 && s < this.nSteps) {
        if (this.firstState[s] < 0) this.firstState[s] = k;
        this.lastState[s] = k;
      }
    }
    // carry forward: the last state at or before each step
    this.stateUpTo = new Int32Array(this.nSteps);
    let last = -1;
    for (let s = 0; s < this.nSteps; s++) {
      if (this.lastState[s] >= 0) last = this.lastState[s];
      this.stateUpTo[s] = last;
    }
    this.isCall = d.insns.asm.map((a) => !!a && /^call /.test(a) && !/^call pc/.test(a));
    // source line -> instructions
    this.srcInsns = new Map();
    d.insns.src.forEach((src, i) => {
      if (src < 0) return;
      let v = this.srcInsns.get(src);
      if (!v) { v = []; this.srcInsns.set(src, v); }
      v.push(d.insns.idx[i]);
    });
    this.srcVisits = d.sources.map((_, j) => (this.srcInsns.get(j) || [])
      .reduce((n, x) => n + (this.visits.get(x) || []).length, 0));
    this.maxVisits = Math.max(1, ...d.insns.visits);
    this.maxSrcVisits = Math.max(1, ...this.srcVisits);
    this.prunesAt = new Map();
    d.prunes.insn.forEach((x) => this.prunesAt.set(x, (this.prunesAt.get(x) || 0) + 1));
    this.branchAt = new Map();
    d.branches.step.forEach((s, i) => this.branchAt.set(s, i));
    // precision backtracking lines grouped by the step they follow
    this.btAt = new Map();
    d.backtrack.step.forEach((s, i) => {
      let v = this.btAt.get(s);
      if (!v) { v = []; this.btAt.set(s, v); }
      v.push(i);
    });
    // references: events per ref, acquisition step
    this.refEvents = new Map();
    const ev = d.events;
    ev.ref.forEach((r, i) => {
      let v = this.refEvents.get(r);
      if (!v) { v = []; this.refEvents.set(r, v); }
      v.push(i);
    });
    this.refIds = [...this.refEvents.keys()].sort((a, b) => a - b);
    for (const [r] of d.leaks) if (!this.refEvents.has(r)) { this.refEvents.set(r, []); this.refIds.push(r); }
  }

  defaultStep() {
    return this.nSteps ? this.nSteps - 1 : 0;
  }

  // ------------------------------------------------------------------ state replay
  // The registers and stack slots of the current frame after step s: the last full state
  // printed at or before s, with the registers printed after each instruction since laid
  // over it (a call clobbers R1-R5, which the verifier does not print).
  stateAt(s) {
    const d = this.d, st = d.states;
    const frame = d.steps.frame[s];
    const k = this.stateUpTo[s];
    const out = { values: new Map(), from: new Map(), changed: new Set(), before: new Map(), refs: [], carried: true };
    if (k < 0) return out;
    let j = k, n = 0;
    while (j > 0 && !(st.full[j] && st.frame[j] === frame) && n < 50000) { j--; n++; }
    const stepLine = d.steps.line[s];
    for (let i = j; i <= k; i++) {
      if (st.frame[i] !== frame) continue;
      const isAfter = st.step[i] === s && st.line[i] >= stepLine;
      if (isAfter && out.changed.size === 0) out.before = new Map(out.values);
      if (st.full[i]) { out.values.clear(); out.from.clear(); }
      else {
        // the instruction this delta follows: its own step, or the step before when it was
        // printed as "N: R0=..." ahead of the next instruction
        const si = st.line[i] < d.steps.line[st.step[i]] ? st.step[i] - 1 : st.step[i];
        const row = si >= 0 ? this.insnRow.get(d.steps.insn[si]) : undefined;
        if (row !== undefined && this.isCall[row]) {
          for (const r of ["R1", "R2", "R3", "R4", "R5"]) { out.values.delete(r); out.from.delete(r); }
        }
      }
      for (let c = st.start[i]; c < st.start[i + 1]; c++) {
        const key = d.tokens.key[d.codes[c]];
        out.values.set(key, d.codes[c]);
        out.from.set(key, st.step[i]);
        if (isAfter) out.changed.add(key);
      }
      out.refs = st.refs[i];
    }
    return out;
  }

  // ------------------------------------------------------------------ layout
  build() {
    const d = this.d, el = this.el;
    el.classList.add("bpfkit-explorer");
    el.innerHTML = "";
    const head = bx("div", "bpfx-head");
    const m = d.meta;
    head.appendChild(bx("b", "", m.name || "log"));
    head.appendChild(bx("span", "bpfx-verdict bpfx-" + m.verdict, m.verdict));
    head.appendChild(bx("span", "bpfx-muted", `${m.lines} lines, ${this.nSteps} steps, ${d.insns.idx.length} instructions` + (m.level ? `, level ${m.level}` : "")));
    el.appendChild(head);

    const bar = bx("div", "bpfx-bar");
    const btn = (label, title, fn, name) => {
      const b = bx("button", "bpfx-btn", label);
      b.title = title; b.type = "button";
      if (name) b.dataset.action = name;
      b.addEventListener("click", fn);
      bar.appendChild(b);
      return b;
    };
    btn("|\u25c0", "first step", () => this.select(0, true), "first");
    btn("\u25c0", "previous step (\u2190)", () => this.move(-1), "prev");
    btn("\u25b6", "next step (\u2192)", () => this.move(1), "next");
    btn("\u25b6|", "last step", () => this.select(this.nSteps - 1, true), "last");
    btn("\u21a4 visit", "previous visit of this instruction (loop iteration)", () => this.visit(-1), "prev-visit");
    btn("visit \u21a6", "next visit of this instruction (loop iteration)", () => this.visit(1), "next-visit");
    btn("\u21b7 target", "go to the jump target", () => this.jump(), "jump");
    this.search = bx("input", "bpfx-search");
    this.search.placeholder = "search: insn 17, line 99, R0=ptr_, scalar(...)";
    this.search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.find(this.search.value, e.shiftKey ? -1 : 1); });
    bar.appendChild(this.search);
    this.status = bx("span", "bpfx-status");
    bar.appendChild(this.status);
    el.appendChild(bar);

    const grid = bx("div", "bpfx-grid");
    el.appendChild(grid);
    const col = (title) => {
      const c = bx("div", "bpfx-col");
      c.appendChild(bx("div", "bpfx-title", title));
      grid.appendChild(c);
      return c;
    };
    const srcCol = col("C source (visits)");
    this.srcList = new VList(srcCol, d.sources.length, (j) => {
      const [file, line, text] = d.sources[j];
      const row = bx("div", "bpfx-row bpfx-src");
      row.dataset.srcIndex = j;
      row.dataset.line = line;
      row.title = `${file}:${line}, ${this.srcVisits[j]} visits`;
      row.appendChild(this.heat(this.srcVisits[j], this.maxSrcVisits));
      row.appendChild(bx("span", "bpfx-num", line));
      row.appendChild(bx("span", "bpfx-code", text));
      row.addEventListener("click", () => {
        const xs = this.srcInsns.get(j) || [];
        if (xs.length) this.selectInsn(xs[0]);
      });
      return row;
    }, "bpfx-srclist");
    const insnCol = col("instructions (visits, \u21b7 jump, \u2702 pruned)");
    this.insnList = new VList(insnCol, d.insns.idx.length, (i) => {
      const x = d.insns.idx[i];
      const row = bx("div", "bpfx-row bpfx-insn");
      row.dataset.insn = x;
      row.appendChild(this.heat(d.insns.visits[i], this.maxVisits));
      row.appendChild(bx("span", "bpfx-num", x));
      row.appendChild(bx("span", "bpfx-code", d.insns.asm[i] || ""));
      const t = d.insns.targets[i];
      if (t >= 0) {
        const a = bx("a", "bpfx-target", "\u21b7" + t);
        a.title = "jump target " + t; a.href = "#"; a.dataset.target = t;
        a.addEventListener("click", (e) => { e.preventDefault(); e.stopPropagation(); this.selectInsn(t); });
        row.appendChild(a);
      }
      const p = this.prunesAt.get(x);
      if (p) row.appendChild(bx("span", "bpfx-prune", "\u2702" + p)).title = `pruned ${p} times here (safe)`;
      row.appendChild(bx("span", "bpfx-visits", d.insns.visits[i]));
      row.addEventListener("click", () => this.selectInsn(x));
      return row;
    }, "bpfx-insnlist");
    const stateCol = col("state after the step");
    this.stateBox = bx("div", "bpfx-state");
    stateCol.appendChild(this.stateBox);

    // timeline: register lanes, references, prunes and paths over steps
    const tl = bx("div", "bpfx-timeline");
    tl.appendChild(bx("div", "bpfx-title", "timeline: register types (R0-R9), references held, new paths and prunes; click to select a step"));
    this.canvas = bx("canvas", "bpfx-canvas");
    tl.appendChild(this.canvas);
    el.appendChild(tl);
    this.canvas.addEventListener("click", (e) => {
      const r = this.canvas.getBoundingClientRect();
      const x = (e.clientX - r.left) / r.width;
      this.select(Math.min(this.nSteps - 1, Math.max(0, Math.round(x * (this.nSteps - 1)))), true);
    });

    const lower = bx("div", "bpfx-lower");
    this.refBox = bx("div", "bpfx-refs");
    this.btBox = bx("div", "bpfx-bt");
    lower.appendChild(this.refBox);
    lower.appendChild(this.btBox);
    el.appendChild(lower);
    this.buildRefs();

    el.tabIndex = 0;
    el.addEventListener("keydown", (e) => {
      if (e.target === this.search) return;
      if (e.key === "ArrowRight" || e.key === "j") { this.move(1); e.preventDefault(); }
      if (e.key === "ArrowLeft" || e.key === "k") { this.move(-1); e.preventDefault(); }
    });
    requestAnimationFrame(() => { this.srcList.draw(); this.insnList.draw(); this.drawTimeline(); });
  }

  heat(n, max) {
    const h = bx("span", "bpfx-heat");
    const f = n ? Math.log1p(n) / Math.log1p(max) : 0;
    h.style.background = n ? `rgba(213, 94, 0, ${0.12 + 0.88 * f})` : "transparent";
    h.title = n + " visits";
    return h;
  }

  buildRefs() {
    const d = this.d, ev = d.events, box = this.refBox;
    box.appendChild(bx("div", "bpfx-title", "references: acquired \u2192 released / leaked (ownership model)"));
    if (!this.refIds.length) { box.appendChild(bx("div", "bpfx-muted", "no references in this log")); return; }
    const leaks = new Map(d.leaks.map(([r, a]) => [r, a]));
    for (const r of this.refIds) {
      const row = bx("div", "bpfx-ref");
      row.dataset.ref = r;
      const idxs = this.refEvents.get(r);
      const type = idxs.map((i) => ev.btf_type[i]).find((t) => t) || "";
      row.appendChild(bx("b", "", `ref ${r}`));
      if (type) row.appendChild(bx("span", "bpfx-muted", " " + type));
      if (leaks.has(r)) row.appendChild(bx("span", "bpfx-leak", ` leaked (alloc_insn=${leaks.get(r)})`));
      const list = bx("span", "bpfx-events");
      const shown = idxs.filter((i) => ev.event[i] !== "copy").slice(0, 40);
      for (const i of shown) {
        const a = bx("a", "bpfx-event bpfx-ev-" + ev.event[i], `${ev.event[i]}@${ev.insn[i]}`);
        a.href = "#";
        a.title = `path ${ev.path[i]}, step ${ev.step[i]}` + (ev.sink[i] ? `, ${ev.sink[i]}` : "") + (ev.detail[i] ? `: ${ev.detail[i]}` : "");
        a.dataset.step = ev.step[i];
        a.dataset.event = ev.event[i];
        a.addEventListener("click", (e) => { e.preventDefault(); this.select(this.stepOfEvent(i), true); });
        list.appendChild(a);
      }
      if (idxs.length > shown.length) list.appendChild(bx("span", "bpfx-muted", ` \u2026 ${idxs.length - shown.length} more`));
      row.appendChild(list);
      box.appendChild(row);
    }
  }

  // the step where reference r was acquired (its first acquire/inherited event)
  originOf(r) {
    const ev = this.d.events;
    const idxs = this.refEvents.get(r) || [];
    const i = idxs.find((k) => ev.event[k] === "acquire") ?? idxs[0];
    if (i !== undefined) return this.stepOfEvent(i);
    const leak = this.d.leaks.find(([x]) => x === r);
    if (leak) { const v = this.visits.get(leak[1]); if (v) return v[0]; }
    return -1;
  }

  // the step of event i's instruction: the event's state may be printed with the next step
  // ("6: R0=ptr_or_null_..." after "5: call bpf_obj_new_impl")
  stepOfEvent(i) {
    const ev = this.d.events;
    const v = this.visits.get(ev.insn[i]) || [];
    let best = -1;
    for (const s of v) { if (s <= ev.step[i]) best = s; else break; }
    return best >= 0 ? best : ev.step[i];
  }

  followRef(r) {
    const s = this.originOf(r);
    if (s >= 0) this.select(s, true);
    return s;
  }

  // ------------------------------------------------------------------ selection
  select(s, user) {
    if (!this.nSteps) { this.status.textContent = "no verifier steps in this log"; return; }
    s = Math.max(0, Math.min(this.nSteps - 1, s));
    this.step = s;
    const d = this.d;
    const x = d.steps.insn[s];
    const row = this.insnRow.get(x);
    this.insnList.select(row === undefined ? -1 : row, true);
    const src = row === undefined ? -1 : d.insns.src[row];
    this.srcList.select(src, true);
    const v = this.visits.get(x) || [];
    const nth = v.indexOf(s) + 1;
    const b = this.branchAt.get(s);
    let where = `step ${s}/${this.nSteps - 1} \u00b7 path ${d.steps.path[s]} \u00b7 frame ${d.steps.frame[s]} \u00b7 insn ${x} \u00b7 visit ${nth} of ${v.length}`;
    if (b !== undefined) where += ` \u00b7 new path: from ${d.branches.from[b]} to ${d.branches.to[b]}`;
    this.status.textContent = where;
    this.el.dataset.step = s;
    this.el.dataset.insn = x;
    this.renderState(s);
    this.renderBacktrack(s);
    this.drawTimeline();
    if (user && this.model.set) {
      this.model.set("step", s);
      if (this.model.save_changes) this.model.save_changes();
    }
  }

  move(delta) { this.select(this.step + delta, true); }

  visit(dir) {
    const v = this.visits.get(this.d.steps.insn[this.step]) || [];
    const i = v.indexOf(this.step) + dir;
    if (i >= 0 && i < v.length) this.select(v[i], true);
  }

  jump() {
    const row = this.insnRow.get(this.d.steps.insn[this.step]);
    const t = row === undefined ? -1 : this.d.insns.targets[row];
    if (t >= 0) this.selectInsn(t);
  }

  // select instruction x: its next visit after the current step, else its first visit
  selectInsn(x) {
    const v = this.visits.get(x);
    if (!v || !v.length) {
      const row = this.insnRow.get(x);
      if (row !== undefined) this.insnList.select(row, true);
      this.status.textContent = `insn ${x} was never visited`;
      return;
    }
    const next = v.find((s) => s > this.step);
    this.select(next !== undefined && this.d.steps.insn[this.step] === x ? next : (next !== undefined ? next : v[0]), true);
  }

  find(query, dir) {
    const q = query.trim();
    if (!q) return;
    const d = this.d;
    let m;
    if ((m = /^(?:insn\s*)?(\d+)$/.exec(q))) { this.selectInsn(Number(m[1])); return; }
    if ((m = /^(?:line\s*|:)(\d+)$/.exec(q))) {
      const j = d.sources.findIndex((s) => s[1] === Number(m[1]));
      if (j >= 0) { const xs = this.srcInsns.get(j) || []; if (xs.length) this.selectInsn(xs[0]); }
      else this.status.textContent = `no C line ${m[1]} in this log`;
      return;
    }
    // a register value: tokens whose "KEY=text" contains the query
    const hit = new Uint8Array(d.tokens.key.length);
    let any = false;
    const ql = q.toLowerCase();
    d.tokens.key.forEach((k, i) => {
      if ((k + "=" + d.tokens.text[i]).toLowerCase().includes(ql)) { hit[i] = 1; any = true; }
    });
    if (!any) { this.status.textContent = `no register or stack value matches "${q}"`; return; }
    const st = d.states;
    const n = st.step.length;
    let k = this.step >= 0 ? (dir > 0 ? (this.lastState[this.step] >= 0 ? this.lastState[this.step] + 1 : this.stateUpTo[this.step] + 1) : this.firstState[this.step] - 1) : 0;
    if (dir < 0 && this.firstState[this.step] < 0) k = this.stateUpTo[this.step];
    for (let c = 0; c < n; c++, k += dir) {
      if (k >= n) k = 0;
      if (k < 0) k = n - 1;
      for (let t = st.start[k]; t < st.start[k + 1]; t++) {
        if (hit[d.codes[t]]) { this.select(st.step[k], true); return; }
      }
    }
  }

  // ------------------------------------------------------------------ panes
  renderState(s) {
    const d = this.d, box = this.stateBox;
    box.innerHTML = "";
    const row = this.insnRow.get(d.steps.insn[s]);
    const insn = bx("div", "bpfx-cur");
    insn.appendChild(bx("span", "bpfx-num", d.steps.insn[s]));
    insn.appendChild(bx("span", "bpfx-code", row === undefined ? "" : d.insns.asm[row]));
    box.appendChild(insn);
    if (row !== undefined && d.insns.src[row] >= 0) {
      const [file, line, text] = d.sources[d.insns.src[row]];
      box.appendChild(bx("div", "bpfx-muted bpfx-code", `${text}  @ ${file}:${line}`));
    }
    const st = this.stateAt(s);
    const keys = [...st.values.keys()].sort((a, b) => this.keyOrder(a) - this.keyOrder(b));
    const table = bx("table", "bpfx-regs");
    const head = table.insertRow();
    for (const h of ["", "value", "since step"]) head.appendChild(bx("th", "", h));
    for (const key of keys) {
      const code = st.values.get(key);
      const tr = table.insertRow();
      tr.dataset.key = key;
      tr.dataset.value = d.tokens.text[code];
      tr.dataset.since = st.from.get(key);
      if (st.changed.has(key)) tr.className = "bpfx-changed";
      tr.appendChild(bx("th", "", key));
      const td = bx("td", "bpfx-code");
      td.appendChild(bx("span", "", d.tokens.text[code]));
      if (st.changed.has(key)) {
        const prev = st.before.get(key);
        const was = prev === undefined ? "(not set)" : d.tokens.text[prev];
        if (prev !== code) td.appendChild(bx("span", "bpfx-was", " was " + was));
      }
      const ref = d.tokens.ref[code];
      if (ref > 0) {
        const a = bx("a", "bpfx-reflink", ` ref ${ref} \u2197`);
        a.href = "#"; a.dataset.ref = ref; a.title = "go to where this reference was acquired";
        a.addEventListener("click", (e) => { e.preventDefault(); this.followRef(ref); });
        td.appendChild(a);
      }
      tr.appendChild(td);
      const since = bx("td", "bpfx-num", st.from.get(key));
      tr.appendChild(since);
    }
    box.appendChild(table);
    if (!keys.length) box.appendChild(bx("div", "bpfx-muted", "no state printed yet on this path"));
    if (st.refs && st.refs.length) {
      const p = bx("div", "bpfx-held", "references held: ");
      for (const r of st.refs) {
        const a = bx("a", "bpfx-reflink", `${r} \u2197 `);
        a.href = "#"; a.dataset.ref = r;
        a.addEventListener("click", (e) => { e.preventDefault(); this.followRef(r); });
        p.appendChild(a);
      }
      box.appendChild(p);
    }
    const ev = d.events;
    const here = [];
    ev.step.forEach((es, i) => { if (es === s) here.push(`ref ${ev.ref[i]}: ${ev.event[i]}` + (ev.detail[i] ? ` (${ev.detail[i]})` : "")); });
    if (here.length) box.appendChild(bx("div", "bpfx-evhere", here.join("; ")));
  }

  keyOrder(k) {
    if (k[0] === "R") return Number(k.slice(1));
    const off = Number(k.slice(2));
    return 100 - off;
  }

  renderBacktrack(s) {
    const d = this.d, box = this.btBox;
    box.innerHTML = "";
    box.appendChild(bx("div", "bpfx-title", "precision backtracking after this step (mark_precise)"));
    const marked = new Set();
    const idxs = this.btAt.get(s) || [];
    if (!idxs.length) box.appendChild(bx("div", "bpfx-muted", d.meta.level === 2 ? "none at this step" : "needs a level-2 log"));
    for (const i of idxs.slice(0, 200)) {
      const x = d.backtrack.insn[i];
      const row = bx("div", "bpfx-btrow");
      if (x >= 0) {
        const a = bx("a", "", `insn ${x}`);
        a.href = "#"; a.dataset.insn = x; a.title = "select this instruction";
        a.addEventListener("click", (e) => { e.preventDefault(); this.selectInsn(x); });
        row.appendChild(a);
        row.appendChild(bx("span", "bpfx-code", ` frame${d.backtrack.frame[i]} ${d.bt_text[d.backtrack.what[i]]}`));
      } else {
        row.appendChild(bx("span", "bpfx-code bpfx-muted", d.bt_text[d.backtrack.what[i]]));
      }
      box.appendChild(row);
      const r = this.insnRow.get(x);
      if (r !== undefined) marked.add(r);
    }
    if (idxs.length > 200) box.appendChild(bx("div", "bpfx-muted", `\u2026 ${idxs.length - 200} more lines`));
    this.insnList.marked = marked;
    this.insnList.refresh();
  }

  drawTimeline() {
    const c = this.canvas, d = this.d;
    const w = Math.max(300, (c.parentElement && c.parentElement.clientWidth) || 900);
    const refRows = Math.min(this.refIds.length, 12);
    const rowH = 7, top = 14;
    const h = top + 10 * rowH + 6 + refRows * rowH + 4;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; c.style.height = h + "px"; }
    const g = c.getContext("2d");
    if (!g) return;
    const n = Math.max(1, this.nSteps - 1);
    const X = (s) => Math.round((s / n) * (w - 1));
    if (!this.bg) {
      g.clearRect(0, 0, w, h);
      const colors = { scalar: "#0072B2", ctx: "#009E73", fp: "#999999", map_ptr: "#CC79A7", map_value: "#E69F00", ptr_: "#D55E00", pkt: "#56B4E9", pkt_end: "#56B4E9" };
      // register lanes: each register keeps the colour of its type until the log prints it
      // again (a full state ends the lanes of registers it does not show)
      const st = d.states;
      const lane = new Array(10).fill(null);  // [start step, colour]
      const end = (r, s) => {
        const l = lane[r];
        if (l && l[1]) { g.fillStyle = l[1]; g.fillRect(X(l[0]), top + r * rowH, Math.max(1, X(s) - X(l[0])), rowH - 1); }
        lane[r] = null;
      };
      for (let k = 0; k < st.step.length; k++) {
        const s = st.step[k];
        const seen = new Set();
        for (let t = st.start[k]; t < st.start[k + 1]; t++) {
          const code = d.codes[t];
          const key = d.tokens.key[code];
          if (key[0] !== "R") continue;
          const r = Number(key.slice(1));
          if (r > 9) continue;
          seen.add(r);
          const colour = colors[d.tokens.type[code]] || "#F0E442";
          if (lane[r] && lane[r][1] === colour) continue;
          end(r, s);
          lane[r] = [s, colour];
        }
        if (st.full[k]) for (let r = 0; r < 10; r++) if (!seen.has(r)) end(r, s);
      }
      for (let r = 0; r < 10; r++) end(r, n);
      g.fillStyle = "#444";
      for (const s of d.branches.step) g.fillRect(X(s), 0, 1, 5);
      g.fillStyle = "#b3261e";
      for (const s of d.prunes.step) g.fillRect(X(s), 6, 1, 5);
      const ev = d.events;
      this.refIds.slice(0, refRows).forEach((r, j) => {
        const y = top + 10 * rowH + 6 + j * rowH;
        const starts = new Map();
        for (const i of this.refEvents.get(r)) {
          const e = ev.event[i], key = ev.path[i];
          if (e === "acquire" || e === "inherited") starts.set(key, ev.step[i]);
          else if (["transfer", "release", "null", "unreleased", "held_at_end"].includes(e)) {
            const s0 = starts.has(key) ? starts.get(key) : ev.step[i];
            g.fillStyle = e === "unreleased" || e === "held_at_end" ? "#b3261e" : "#D55E00";
            g.fillRect(X(s0), y, Math.max(2, X(ev.step[i]) - X(s0)), rowH - 2);
            starts.delete(key);
          }
        }
      });
      this.bg = g.getImageData(0, 0, w, h);
    } else {
      g.putImageData(this.bg, 0, 0);
    }
    if (this.step !== undefined) {
      g.fillStyle = "rgba(0,0,0,0.85)";
      g.fillRect(X(this.step), 0, 2, h);
    }
  }

  // ------------------------------------------------------------------ test hook
  api() {
    const self = this;
    return {
      element: self.el,
      readyAt: self.readyAt,
      get step() { return self.step; },
      get insn() { return self.d.steps.insn[self.step]; },
      select: (s) => self.select(s, true),
      move: (n) => self.move(n),
      selectInsn: (x) => self.selectInsn(x),
      followRef: (r) => self.followRef(r),
      find: (q) => self.find(q, 1),
      originOf: (r) => self.originOf(r),
      state: () => {
        const st = self.stateAt(self.step);
        const values = {};
        for (const [k, c] of st.values) values[k] = self.d.tokens.text[c];
        return { step: self.step, insn: self.d.steps.insn[self.step], path: self.d.steps.path[self.step], frame: self.d.steps.frame[self.step], values, changed: [...st.changed], refs: st.refs };
      },
    };
  }
}

function render({ model, el }) {
  const ex = new Explorer(el, model);
  const api = ex.api();
  el.bpfkitExplorer = api;
  (window.bpfkitExplorers = window.bpfkitExplorers || []).push(api);
  return () => {
    const list = window.bpfkitExplorers || [];
    const i = list.indexOf(api);
    if (i >= 0) list.splice(i, 1);
  };
}

// The static host (report pages): a model over a data object, kept in the page.
function bpfkitExplorerStatic(el, data) {
  const values = { data, step: -1 };
  const model = { get: (k) => values[k], set: (k, v) => { values[k] = v; }, save_changes() {}, on() {} };
  return render({ model, el });
}
//@export
export default { render };
