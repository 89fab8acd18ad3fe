// hookdaemon's dashboard: times in the reader's time zone (UTC stays on hover),
// a running job's log as it is written, and lists that follow the jobs. The
// pages work without it; this file is all the script there is (no library).
"use strict";

function localTimes(root) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      element.textContent = moment.toLocaleString();
    }
  }
}

const STREAMS = new Set(["stdout", "stderr", "hookdaemon"]);

function logLine(text) {
  // "STREAM text", as the job's log writes it; built as text nodes, never as HTML.
  const space = text.indexOf(" ");
  let stream = space > 0 ? text.slice(0, space) : "";
  let rest = space > 0 ? text.slice(space + 1) : text;
  if (!STREAMS.has(stream)) {
    stream = "stdout";
    rest = text;
  }
  const line = document.createElement("span");
  line.className = "line " + stream;
  const label = document.createElement("span");
  label.className = "stream";
  label.textContent = stream;
  line.append(label, " " + rest);
  return line;
}

function followLog(log) {
  const source = new EventSource("/ui/jobs/" + log.dataset.job + "/events");
  let first = true;
  source.addEventListener("start", () => {
    log.replaceChildren(); // the stream starts over with the whole output so far
    first = true;
  });
  source.addEventListener("line", (message) => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    if (!first) {
      log.append("\n");
    }
    first = false;
    log.append(logLine(message.data));
    if (atEnd) {
      log.scrollTop = log.scrollHeight;
    }
  });
  source.addEventListener("end", () => {
    source.close();
    window.location.reload(); // the finished job's facts
  });
}

function followJobs(main) {
  const source = new EventSource("/ui/events");
  let pending = null;
  let opened = false;
  const refresh = () => {
    if (pending !== null) {
      return;
    }
    // A moment for the journal to have the change the event tells of.
    pending = window.setTimeout(async () => {
      pending = null;
      let page;
      try {
        const answer = await fetch(window.location.href, { credentials: "same-origin" });
        if (!answer.ok) {
          return;
        }
        page = new DOMParser().parseFromString(await answer.text(), "text/html");
      } catch {
        return; // the daemon is away; the stream's reconnection brings the next try
      }
      const fresh = page.getElementById("main");
      if (fresh) {
        main.replaceChildren(...fresh.childNodes);
        localTimes(main);
      }
    }, 300);
  };
  source.addEventListener("open", () => {
    if (opened) {
      refresh(); // connected again: what changed during the break was told to no one
    }
    opened = true;
  });
  source.addEventListener("job", refresh);
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  const log = document.getElementById("log");
  if (log) {
    log.scrollTop = log.scrollHeight;
    if (log.dataset.live === "yes") {
      followLog(log);
    }
    return;
  }
  const main = document.getElementById("main");
  if (main && main.dataset.follow === "jobs") {
    followJobs(main);
  }
});
