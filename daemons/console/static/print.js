// The printable report's button; a file of its own because the console allows no inline script.
"use strict";
document.getElementById("print").addEventListener("click", () => window.print());
