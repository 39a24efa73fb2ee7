/* Server-rendered forms (e.g. /welcome): a time zone field marked
 * data-browser-timezone starts on the browser's own IANA zone instead of UTC.
 * Harmless on every other page (it looks for that attribute only). */
(function () {
    "use strict";
    function apply() {
        var zone = null;
        try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) {}
        if (!zone) { return; }
        document.querySelectorAll("input[data-browser-timezone]").forEach(
            function (input) { input.value = zone; });
    }
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", apply);
    } else {
        apply();
    }
})();
