// The simulated LINE Login page: typing a user id or a name chooses "ผู้ใช้อื่น / ผู้ใช้ใหม่".
// The form works without this file; it only saves a tap.
"use strict";
for (const id of ["new_user_id", "new_name"]) {
  const field = document.getElementById(id);
  if (field) field.addEventListener("input", () => { document.getElementById("other").checked = true; });
}
