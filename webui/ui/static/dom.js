// Small DOM helpers. Values are always written with textContent, never as
// HTML, so nothing the controller or a pool sends can inject markup.

// el builds an element: el("td", {className: "num"}, "12") or
// el("button", {type: "button", dataset: {action: "up"}}, "Up").
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "testid") e.dataset.testid = v;
    else if (k in e && k !== "list") e[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// text sets an element's text only when it changed, so a selection or a
// screen reader is not disturbed by identical updates.
export function text(e, value) {
  if (e && e.textContent !== value) e.textContent = value;
}

// cell is one table cell with text and an optional class.
export function cell(value, className) {
  return el("td", { className }, value);
}

// emptyRow is a table row saying there is nothing to show.
export function emptyRow(columns, message) {
  return el("tr", {}, el("td", { className: "empty", colSpan: columns }, message));
}

// badge is a pill with a status class (st-active, st-dead...).
export function badge(label, status) {
  return el("span", { className: "badge st-" + status }, label);
}

// syncRows updates tbody's rows in place: rows are matched by key, cells
// rewritten only where their text changed, so buttons inside keep working
// while the stream refreshes the table every two seconds. render(item)
// returns the cells (nodes or strings) of a row; rowClass(item) its class.
export function syncRows(tbody, items, key, render, rowClass) {
  const old = new Map();
  for (const tr of tbody.rows) if (tr.dataset.key !== undefined) old.set(tr.dataset.key, tr);
  const rows = items.map((item) => {
    const k = String(key(item));
    const cells = render(item);
    let tr = old.get(k);
    if (tr && tr.cells.length === cells.length) {
      cells.forEach((c, i) => patchCell(tr.cells[i], c));
    } else {
      tr = el("tr", { dataset: { key: k } }, cells.map((c) => (c instanceof HTMLTableCellElement ? c : cell(c))));
    }
    tr.className = rowClass ? rowClass(item) || "" : "";
    return tr;
  });
  const same = rows.length === tbody.rows.length && rows.every((r, i) => tbody.rows[i] === r);
  if (!same) tbody.replaceChildren(...rows);
  labelCells(tbody);
}

// labelCells copies each column's heading into its cells' data-label, which
// the phone layout shows beside the value when a table is stacked.
export function labelCells(tbody) {
  const head = tbody.parentElement && tbody.parentElement.tHead;
  if (!head || !head.rows.length) return;
  const names = Array.from(head.rows[0].cells, (th) => th.textContent.trim());
  for (const tr of tbody.rows) {
    if (tr.cells.length !== names.length) continue;
    Array.from(tr.cells).forEach((td, i) => {
      if (td.dataset.label !== names[i]) td.dataset.label = names[i];
    });
  }
}

// patchCell makes td look like c (a string or a new <td>) with as few DOM
// changes as possible. Cells holding controls (data-keep) are left alone.
function patchCell(td, c) {
  if (td.dataset.keep !== undefined) return;
  if (!(c instanceof HTMLTableCellElement)) {
    if (td.children.length) td.replaceChildren();
    text(td, String(c));
    if (td.className) td.className = "";
    return;
  }
  if (td.className !== c.className) td.className = c.className;
  if (td.title !== c.title) td.title = c.title;
  if (c.children.length === 0 && td.children.length === 0) {
    text(td, c.textContent);
  } else if (td.innerHTML !== c.innerHTML) {
    td.replaceChildren(...c.childNodes);
  }
}

// busy disables a button while promise runs and restores it afterwards.
export async function busy(button, promise) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await promise;
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}
