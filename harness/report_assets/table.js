// A sortable, searchable, paged table drawn synchronously with the DOM API.
// It replaces Grid.js, whose asynchronous pipeline lost its data when the page
// was slow (grid-js/gridjs#1458: "Cannot read properties of undefined (reading
// 'length')" in 3 of 4 loads on a busy machine).  Every cell goes in as text
// unless its column's formatter builds a node itself: candidates are hostile.
"use strict";
window.reportTable = (function () {
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  const node = (tag, props, ...children) => {
    const n = document.createElement(tag);
    Object.assign(n, props || {});
    for (const child of children) n.append(child);
    return n;
  };
  // a missing value first, numbers by value, text as people sort it ("HumanEval/9" before "/10")
  const natural = (a, b) => {
    if (a === b) return 0;
    if (a === null || a === undefined) return -1;
    if (b === null || b === undefined) return 1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return text(a).localeCompare(text(b), undefined, { numeric: true });
  };

  // columns: [{name, format?(value) -> string | Node, compare?(a, b) | false, width?}]
  // options: {rows, limit, search, className, onRowClick(row)}
  const reportTable = function (holder, columns, options) {
    let all = options.rows, shown = all, page = 0, sortBy = -1, direction = 1, query = "";
    const limit = options.limit || 25;
    const cell = (column, value) => {
      const out = column.format ? column.format(value) : text(value);
      return typeof out === "string" ? node("td", { textContent: out }) : node("td", {}, out);
    };
    const searched = new WeakMap();  // a row's text, formatted once, not at every keystroke
    const searchText = (row) => {
      if (!searched.has(row)) {
        searched.set(row, row.map((v, i) => {
          const out = columns[i].format ? columns[i].format(v) : v;
          return typeof out === "string" ? out : text(v);
        }).join("\u0000").toLowerCase());
      }
      return searched.get(row);
    };

    const table = node("table", { className: "report-table " + (options.className || "") });
    const head = node("tr");
    const body = node("tbody");
    const footer = node("div", { className: "table-footer" });
    table.append(node("thead", {}, head), body);
    columns.forEach((column, i) => {
      const th = node("th", { textContent: column.name });
      if (column.width) th.style.width = column.width;
      if (column.compare !== false) {
        th.className = "sortable";
        th.addEventListener("click", () => {
          direction = sortBy === i ? -direction : 1;
          sortBy = i;
          apply();
        });
      }
      head.append(th);
    });
    if (options.search) {
      const input = node("input", { type: "search", placeholder: "Search…", className: "table-search" });
      input.addEventListener("input", () => { query = input.value.trim().toLowerCase(); apply(); });
      holder.append(input);
    }
    holder.append(node("div", { className: "table-wrap" }, table), footer);

    const apply = () => {
      shown = query ? all.filter((row) => searchText(row).includes(query)) : all.slice();
      if (sortBy >= 0) {
        const compare = columns[sortBy].compare || natural;
        shown.sort((a, b) => direction * compare(a[sortBy], b[sortBy]));
      }
      page = 0;
      draw();
    };
    const pageButton = (label, target, current) => {
      const b = node("button", { type: "button", textContent: label, disabled: target < 0 || target * limit >= shown.length });
      if (current) b.className = "current";
      b.addEventListener("click", () => { page = target; draw(); });
      return b;
    };
    const draw = () => {
      head.querySelectorAll("th").forEach((th, i) => {
        th.dataset.sort = i === sortBy ? (direction > 0 ? "asc" : "desc") : "";
      });
      const start = page * limit, rows = shown.slice(start, start + limit);
      body.replaceChildren(...rows.map((row) => {
        const tr = node("tr", {}, ...row.map((v, i) => cell(columns[i], v)));
        if (options.onRowClick) tr.addEventListener("click", () => options.onRowClick(row));
        return tr;
      }));
      if (!rows.length) body.append(node("tr", {}, node("td", { colSpan: columns.length, className: "empty", textContent: "No matching rows" })));
      const bold = (n) => node("b", { textContent: String(n) });
      const summary = node("span", { className: "summary" }, "Showing ", bold(shown.length ? start + 1 : 0), " to ",
                           bold(start + rows.length), " of ", bold(shown.length), " results");
      const pages = Math.ceil(shown.length / limit);
      const buttons = [pageButton("Previous", page - 1, false)];
      const first = Math.max(0, Math.min(page - 2, pages - 5));  // five page numbers around this one
      for (let p = first; p < Math.min(pages, first + 5); p++) buttons.push(pageButton(String(p + 1), p, p === page));
      buttons.push(pageButton("Next", page + 1, false));
      footer.replaceChildren(summary, pages > 1 ? node("span", { className: "pages" }, ...buttons) : "");
    };
    apply();
    return { setRows: (rows) => { all = rows; apply(); } };
  };
  reportTable.el = node;  // the page's own DOM builder too (report.js)
  return reportTable;
})();
