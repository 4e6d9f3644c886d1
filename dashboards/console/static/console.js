// Keyboard triage. Queue: j/k move, Enter or o opens, x ticks, / searches.
// Incident: a acknowledges, c writes a comment, s sets the status, v the verdict, u goes back to the queue.
document.addEventListener("keydown", (e) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const focus = (selector) => { const el = document.querySelector(selector); if (el) { e.preventDefault(); el.focus(); } };
  if (document.getElementById("act-acknowledge") || document.getElementById("act-comment")) {
    if (e.key === "a" && document.getElementById("act-acknowledge")) document.querySelector("#act-acknowledge button").click();
    else if (e.key === "c") focus("#act-comment input[name=note]");
    else if (e.key === "s") focus("#act-status select");
    else if (e.key === "v") focus("#act-verdict select");
    else if (e.key === "u") location.href = "/";
    return;
  }
  const rows = [...document.querySelectorAll("tr[data-href]")];
  let at = rows.findIndex((r) => r.classList.contains("selected"));
  const select = (n) => { rows.forEach((r) => r.classList.remove("selected")); if (rows[n]) rows[n].classList.add("selected"); };
  if (e.key === "j") select(Math.min(at + 1, rows.length - 1));
  else if (e.key === "k") select(Math.max(at - 1, 0));
  else if ((e.key === "Enter" || e.key === "o") && rows[at]) location.href = rows[at].dataset.href;
  else if (e.key === "x" && rows[at]) { const box = rows[at].querySelector("input[type=checkbox]"); if (box) box.checked = !box.checked; }
  else if (e.key === "/") focus("#q");
});
