// After the first paint (two animation frames), tell Rust the page is live.
const invoke = window.__TAURI__.core.invoke;
const ping = document.getElementById('ping');
ping.addEventListener('click', () => { ping.textContent = 'Pong'; });
requestAnimationFrame(() => requestAnimationFrame(() => invoke('ready')));
