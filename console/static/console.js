// Every htmx request carries the CSRF token (forms carry it as a hidden field).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
});

// The calls page: "ใช้ข้อมูลเดิม" fills the caller's name and province from their history.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-fill-province]");
  if (!button) return;
  var fields = { caller_name: button.dataset.fillName, province: button.dataset.fillProvince };
  Object.keys(fields).forEach(function (id) {
    var input = document.getElementById(id);
    if (input && fields[id]) input.value = fields[id];
  });
  var next = document.getElementById("category");
  if (next) next.focus();
});
