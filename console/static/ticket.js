// The ticket page: SLA countdown, typing flag for the collision notice, canned replies,
// confirmation before closing or merging. No inline script: the CSP forbids it.
(function () {
  "use strict";

  // -- countdown to the next escalation (amber 5 minutes before, red once past) --
  var sla = document.getElementById("sla");
  function words(seconds) {
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m >= 60) return Math.floor(m / 60) + " ชั่วโมง " + (m % 60) + " นาที";
    return m + " นาที " + (s < 10 ? "0" : "") + s + " วินาที";
  }
  function tick() {
    if (!sla) return;
    var left = (Date.parse(sla.dataset.deadline) - Date.now()) / 1000;
    var shown = sla.querySelector(".left");
    shown.textContent = left > 0 ? "อีก " + words(left) : "เลยกำหนด " + words(-left);
    sla.classList.toggle("amber", left > 0 && left <= 300);
    sla.classList.toggle("overdue", left <= 0);
  }
  if (sla) { tick(); setInterval(tick, 1000); }

  // -- typing: flagged for the next presence poll (htmx sends it soon after, debounced) --
  var flag = document.getElementById("typing-flag");
  var lastInput = 0;
  document.addEventListener("input", function (event) {
    if (!flag || !event.target.matches("[data-typing]")) return;
    lastInput = Date.now();
    if (flag.value !== "1") {
      flag.value = "1";
      document.body.dispatchEvent(new Event("typing"));
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (flag && event.target.id === "presence" && Date.now() - lastInput > 3000) flag.value = "0";
  });

  // -- canned replies: the chosen text goes in at the cursor --
  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      var key = canned.value;
      if (!key) return;
      var target = document.getElementById(canned.dataset.target);
      fetch(canned.dataset.url + "?key=" + encodeURIComponent(key), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          canned.value = "";
          if (!data || !target) return;
          var at = target.selectionStart || target.value.length;
          var before = target.value.slice(0, at), after = target.value.slice(at);
          var gap = before && !/\n$/.test(before) ? "\n" : "";
          target.value = before + gap + data.text + after;
          target.focus();
          target.dispatchEvent(new Event("input", { bubbles: true }));
        });
    });
  }

  // -- closing and merging ask first --
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
