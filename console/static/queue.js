// The queue page: countdowns to the next escalation and ages, updated every second from the
// times the server put in data attributes (corrected for this device's clock), and the poll's
// version kept when it answers 204 (nothing changed). Text mirrors console/queue.py `clock`
// and common/thaidate.py `thai_duration`.
(function () {
  "use strict";
  var AMBER_S = 5 * 60;
  var skew = 0; // server time minus this device's time, in ms

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function clock(seconds) {
    var whole = seconds >= 0 ? Math.floor(seconds) : Math.ceil(-seconds);
    var days = Math.floor(whole / 86400), rest = whole % 86400;
    var hours = Math.floor(rest / 3600); rest %= 3600;
    var minutes = Math.floor(rest / 60), secs = rest % 60;
    var body = hours || days ? hours + ":" + pad(minutes) + ":" + pad(secs) : minutes + ":" + pad(secs);
    if (days) body = days + " วัน " + body;
    return (seconds >= 0 ? "อีก " : "เกินมา ") + body;
  }

  function duration(seconds) {
    if (seconds < 60) return Math.max(1, Math.ceil(seconds)) + " วินาที";
    var minutes = Math.round(seconds / 60);
    var days = Math.floor(minutes / 1440), restOfDay = minutes % 1440;
    if (days && !restOfDay) return days + " วัน";
    if (minutes < 60) return minutes + " นาที";
    var hours = Math.floor(minutes / 60), rest = minutes % 60;
    return hours + " ชั่วโมง" + (rest ? " " + rest + " นาที" : "");
  }

  function readSkew() {
    var holder = document.querySelector(".queue-now[data-now]");
    var server = holder ? Date.parse(holder.getAttribute("data-now")) : NaN;
    if (!isNaN(server)) skew = server - Date.now();
  }

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = clock(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("amber", left >= 0 && left <= AMBER_S);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = duration(Math.max(0, (now - Date.parse(el.getAttribute("data-since"))) / 1000));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    readSkew();
    tick();
    window.setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", function () { readSkew(); tick(); });
  // 204: nothing to redraw; poll next time from the version the server gave.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 204 || !event.detail.elt || event.detail.elt.id !== "queue-poll") return;
    var version = xhr.getResponseHeader("X-Queue-Version");
    var input = document.getElementById("queue-version");
    if (version && input) input.value = version;
  });
})();
