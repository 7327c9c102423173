// Progressive enhancement of the upload form: drag-and-drop, and the
// answer of /v1/scan shown in place. Without this script the form posts
// to / and the server renders the same result. Nodes are built with
// textContent only: file names and signature metadata are untrusted.
// Its texts, in the page's language, come from the body's data-msg-*
// attributes (the server fills them from the translation files).
"use strict";

(function () {
  const form = document.getElementById("upload");
  const input = document.getElementById("file");
  const drop = document.getElementById("drop");
  const status = document.getElementById("status");
  const output = document.getElementById("output");
  const button = document.getElementById("submit");
  if (!form || !input || !drop) {
    return;
  }

  // A message in the page's language, its {name} placeholders filled.
  function msg(name, vars) {
    let text = document.body.dataset[name] || "";
    return text.replace(/\{([a-z]+)\}/g, function (all, key) {
      return vars && Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : all;
    });
  }

  function verdictWord(v) {
    return msg({ clean: "msgClean", infected: "msgInfected", error: "msgError" }[v] || "msgError") || v;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined) {
      e.textContent = String(text);
    }
    return e;
  }

  function renderError(code, message) {
    const section = el("section");
    section.id = "result";
    const v = el("p", "verdict error", String(code));
    v.id = "verdict";
    v.dataset.verdict = "error";
    const m = el("p", "", message);
    m.id = "message";
    section.append(v, m);
    output.replaceChildren(section);
  }

  function render(answer) {
    const section = el("section");
    section.id = "result";
    const v = el("p", "verdict " + answer.verdict, verdictWord(answer.verdict));
    v.id = "verdict";
    v.dataset.verdict = answer.verdict;
    section.append(v);
    const files = el("ul", "files");
    for (const f of answer.files) {
      const li = el("li", "file " + f.verdict);
      const head = el("p");
      head.append(el("span", "name", f.name), " ", el("span", "file-verdict", verdictWord(f.verdict)));
      const meta = el("p", "meta", msg("msgFileMeta", { size: f.size }) + " ");
      meta.append(el("code", "sha256", f.sha256));
      const dets = el("ul", "detections");
      for (const finding of f.findings) {
        const chain = [f.name].concat(finding.chain).join(" ! ");
        for (const d of finding.detections) {
          const item = el("li", "detection");
          item.append(
            el("span", "det-name", d.name), " ",
            el("span", "chain", chain), " ",
            el("span", "det-meta", msg("msgDetectionMeta", { engine: d.engine, score: d.score, source: d.source })));
          if (finding.sha256) {
            item.append(" ", el("code", "det-sha256", finding.sha256));
          }
          dets.append(item);
        }
        for (const p of finding.problems) {
          const item = el("li", "problem");
          item.append(el("span", "chain", chain), " " + p.message);
          dets.append(item);
        }
      }
      li.append(head, meta, dets);
      files.append(li);
    }
    section.append(files);
    output.replaceChildren(section);
  }

  async function upload(fileList) {
    if (!fileList || fileList.length === 0) {
      status.textContent = msg("msgNoFile");
      return;
    }
    const body = new FormData();
    const token = document.getElementById("token");
    for (const f of fileList) {
      body.append("file", f, f.name);
    }
    const headers = {};
    if (token && token.value) {
      headers["Authorization"] = "Bearer " + token.value;
    }
    button.disabled = true;
    status.textContent = msg("msgScanning", { count: fileList.length });
    output.replaceChildren();
    try {
      const r = await fetch("/v1/scan", { method: "POST", body: body, headers: headers });
      const answer = await r.json();
      if (!r.ok) {
        renderError(r.status, answer.error || r.statusText);
      } else {
        render(answer);
      }
      status.textContent = "";
    } catch (e) {
      renderError("error", msg("msgFailed", { reason: String(e) }));
      status.textContent = "";
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    upload(input.files);
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, function (ev) {
      ev.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", function () {
    drop.classList.remove("over");
  });
  drop.addEventListener("drop", function (ev) {
    ev.preventDefault();
    drop.classList.remove("over");
    upload(ev.dataTransfer ? ev.dataTransfer.files : null);
  });
  // Tells tests (and curious users) that the page is enhanced.
  document.documentElement.dataset.enhanced = "1";
})();
