// Runs before the first paint: applies the remembered theme (no flash) and
// starts loading the dashboard's configuration while the modules load.
(function () {
  try {
    var t = localStorage.getItem("trainwatch.theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) {
    /* storage unavailable: follow prefers-color-scheme */
  }
  try {
    window.__twConfig = fetch("api/ui/config", { headers: { Accept: "application/json" }, priority: "high" });
    window.__twConfig.catch(function () {});
  } catch (e) {
    window.__twConfig = null;
  }
})();
