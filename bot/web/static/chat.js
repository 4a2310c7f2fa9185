// The web chat page: keeps a session token in localStorage so a reload shows the conversation.
"use strict";
(function () {
  const KEY = "doorway-chat-token";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function token() {
    let value = localStorage.getItem(KEY);
    if (!value) {
      const response = await fetch("/api/chat/session", { method: "POST" });
      value = (await response.json()).token;
      localStorage.setItem(KEY, value);
    }
    return value;
  }

  function show(message) {
    const item = document.createElement("li");
    item.className = "msg " + message.direction;
    item.setAttribute("dir", "auto");
    item.textContent = message.text;
    if (message.choices && message.choices.length) {
      const list = document.createElement("div");
      list.className = "choices";
      for (const choice of message.choices) {
        const button = document.createElement("button");
        button.type = "button";
        button.setAttribute("dir", "auto");
        button.textContent = choice.number + ". " + choice.label;
        button.addEventListener("click", () => send(String(choice.number), choice.label));
        list.appendChild(button);
      }
      item.appendChild(list);
    }
    if (message.hint) {
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = message.hint;
      item.appendChild(hint);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function notice(text) {
    const item = document.createElement("li");
    item.className = "notice";
    item.textContent = text;
    log.appendChild(item);
  }

  async function send(text, shown) {
    show({ direction: "in", text: shown || text });
    const body = JSON.stringify({ text: text, client_id: newId() });
    try {
      const response = await fetch("/api/chat/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + (await token()) },
        body: body,
      });
      if (!response.ok) {
        notice(form.dataset.errorSend);
        return;
      }
      for (const reply of (await response.json()).replies) show(reply);
    } catch (err) {
      notice(form.dataset.errorOffline);
    }
  }

  async function history() {
    const response = await fetch("/api/chat/messages", {
      headers: { Authorization: "Bearer " + (await token()) },
    });
    if (!response.ok) return;
    for (const message of (await response.json()).replies) show(message);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  history();
})();
