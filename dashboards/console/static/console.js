// Keyboard triage on the queue: j/k move, Enter or o opens, x ticks, / searches.
document.addEventListener("keydown", (e) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  const rows = [...document.querySelectorAll("tr[data-href]")];
  let at = rows.findIndex((r) => r.classList.contains("selected"));
  const select = (n) => { rows.forEach((r) => r.classList.remove("selected")); if (rows[n]) rows[n].classList.add("selected"); };
  if (e.key === "j") select(Math.min(at + 1, rows.length - 1));
  else if (e.key === "k") select(Math.max(at - 1, 0));
  else if ((e.key === "Enter" || e.key === "o") && rows[at]) location.href = rows[at].dataset.href;
  else if (e.key === "x" && rows[at]) { const box = rows[at].querySelector("input[type=checkbox]"); box.checked = !box.checked; }
  else if (e.key === "/") { e.preventDefault(); document.getElementById("q").focus(); }
});
