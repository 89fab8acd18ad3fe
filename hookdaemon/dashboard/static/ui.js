// hookdaemon's dashboard: times in the reader's time zone (UTC stays on hover),
// and a job's log scrolled to its end. The pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      element.textContent = moment.toLocaleString();
    }
  }
  const log = document.getElementById("log");
  if (log) {
    log.scrollTop = log.scrollHeight;
  }
});
