// Polls a job's state, shows its progress lines, and its links or table when it is done.
(function () {
  const box = document.getElementById("job");
  function text(tag, value) {
    const el = document.createElement(tag);
    el.textContent = value;
    return el;
  }
  function show(state) {
    document.getElementById("lines").textContent = state.lines.join("\n");
    document.getElementById("seconds").textContent = state.seconds.toFixed(0);
    document.getElementById("status").textContent = state.done ? (state.error ? "refused" : "done") : "running";
    if (!state.done) return false;
    if (state.error) {
      const err = document.getElementById("error");
      err.textContent = state.error;
      err.hidden = false;
      return true;
    }
    const links = document.getElementById("links");
    links.replaceChildren();
    for (const link of state.links) {
      const a = text("a", link.label);
      a.href = link.href;
      const li = document.createElement("li");
      li.appendChild(a);
      links.appendChild(li);
    }
    if (state.rows.length) {
      const table = document.getElementById("rows");
      const body = table.querySelector("tbody");
      for (const row of state.rows) {
        const tr = document.createElement("tr");
        for (const key of ["question", "now", "scenario", "change"]) tr.appendChild(text("td", row[key]));
        body.appendChild(tr);
      }
      table.hidden = false;
    }
    if (box.dataset.follow === "1") window.location.assign(box.dataset.back);
    return true;
  }
  function poll() {
    fetch(box.dataset.state, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((state) => { if (!show(state)) setTimeout(poll, 700); })
      .catch(() => setTimeout(poll, 2000));
  }
  poll();
})();
