// The console's live parts: new offers without reloading, the relay chat, a quiet beep.
"use strict";
(function () {
  const body = document.body;
  const brand = body.dataset.brand || "Doorway";
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const baseTitle = document.title;

  function beep() {
    const toggle = document.getElementById("sound-toggle");
    if (!toggle || !toggle.checked) return;
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.05;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (e) { /* no sound is fine */ }
  }

  function button(label, cls) {
    const b = document.createElement("button");
    b.type = "submit";
    b.textContent = label;
    if (cls) b.className = cls;
    return b;
  }

  function answerForm(code, what, label, cls) {
    const form = document.createElement("form");
    form.method = "post";
    form.className = "inline";
    form.action = "/console/offers/" + encodeURIComponent(code) + "/" + what;
    const hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = "csrf"; hidden.value = csrf;
    form.append(hidden, button(label, cls));
    return form;
  }

  function renderOffers(list, offers) {
    list.replaceChildren();
    if (!offers.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = list.dataset.empty;
      list.append(li);
      return;
    }
    for (const o of offers) {
      const li = document.createElement("li");
      li.className = "offer" + (o.crisis ? " crisis" : "");
      li.dataset.code = o.code;
      const code = document.createElement("span"); code.className = "code"; code.textContent = o.code;
      const tag = document.createElement("span"); tag.className = "tag"; tag.textContent = o.urgency;
      const help = document.createElement("span"); help.textContent = o.help;
      const more = document.createElement("span"); more.className = "muted";
      more.textContent = o.language + " · " + o.pathway;
      li.append(code, tag, help, more,
        answerForm(o.code, "accept", list.dataset.accept, ""),
        answerForm(o.code, "decline", list.dataset.decline, "secondary"));
      list.append(li);
    }
  }

  function pollOffers(url) {
    const list = document.getElementById("offers");
    const toggle = document.getElementById("sound-toggle");
    if (toggle) {
      toggle.checked = localStorage.getItem("doorway-sound") === "on";
      toggle.addEventListener("change", () =>
        localStorage.setItem("doorway-sound", toggle.checked ? "on" : "off"));
    }
    let known = new Set([...list.querySelectorAll("li[data-code]")].map((li) => li.dataset.code));
    async function tick() {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.status === 401) { window.location.reload(); return; }
        if (!response.ok) return;
        const data = await response.json();
        const codes = new Set(data.offers.map((o) => o.code));
        const fresh = [...codes].some((c) => !known.has(c));
        if (fresh || codes.size !== known.size) renderOffers(list, data.offers);
        if (fresh) beep();
        known = codes;
        document.title = data.count ? "(" + data.count + ") " + brand : baseTitle;
      } catch (e) { /* offline for a moment: try again next time */ }
    }
    tick();
    setInterval(tick, 4000);
  }

  function addMessage(chat, m) {
    const li = document.createElement("li");
    li.className = "msg " + m.direction;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = (m.direction === "in" ? chat.dataset.person : chat.dataset.sent) + " · " + m.at;
    const text = document.createElement("span");
    text.className = "body"; text.dir = "auto"; text.textContent = m.body;
    li.append(who, text);
    chat.append(li);
    chat.scrollTop = chat.scrollHeight;
  }

  function pollMessages(url) {
    const chat = document.getElementById("chat");
    let last = Number(chat.dataset.last || 0);
    chat.scrollTop = chat.scrollHeight;
    async function tick() {
      try {
        const response = await fetch(url + "?after=" + last, { credentials: "same-origin", cache: "no-store" });
        if (!response.ok) return;
        const data = await response.json();
        for (const m of data.messages) { addMessage(chat, m); last = Math.max(last, m.id); }
      } catch (e) { /* try again next time */ }
    }
    const form = document.getElementById("composer");
    if (form) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const response = await fetch(form.action, {
          method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
          headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf },
        });
        if (response.ok) { form.reset(); tick(); }
      });
    }
    setInterval(tick, 3000);
  }

  if (body.dataset.pollOffers) pollOffers(body.dataset.pollOffers);
  if (body.dataset.pollMessages) pollMessages(body.dataset.pollMessages);
})();
