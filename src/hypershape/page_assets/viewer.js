// The results page's script: the 3-D view of one object's four meshes side by side (one camera, so
// they orbit together), choosing the object, and sorting and filtering the per-object table.
// Plain script over the global THREE (file:// pages cannot import modules).
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("mesh-data").textContent);
  const COLOURS = [0x8c8c8c, 0x4c8bd6, 0xe0803a, 0x4caf6a]; // ground truth, target, predicted, refined
  const canvas = document.getElementById("view");
  const labels = document.getElementById("labels");
  const select = document.getElementById("object");
  // preserveDrawingBuffer: the canvas keeps its pixels after drawing, so they can be read (saved, tested)
  const renderer = new THREE.WebGLRenderer({ canvas: canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  renderer.setClearColor(0xfafafa);
  renderer.setScissorTest(true);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.01, 100);
  const controls = new THREE.OrbitControls(camera, canvas);
  const geometries = new Map(); // object index -> its four decoded geometries (decoded when first shown)
  let scenes = [];

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  }

  function geometry(m) {
    if (!m.faces) return null;
    const q = new Uint16Array(bytes(m.positions));
    const pos = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) pos[i] = m.lo[i % 3] + (q[i] / 65535) * m.span[i % 3];
    const index = m.index_bits === 32 ? new Uint32Array(bytes(m.index)) : new Uint16Array(bytes(m.index));
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(pos, 3));
    g.setIndex(new THREE.BufferAttribute(index, 1));
    g.computeVertexNormals();
    g.computeBoundingSphere();
    return g;
  }

  function scene(g, colour) {
    const s = new THREE.Scene();
    s.add(new THREE.AmbientLight(0xffffff, 0.5));
    const light = new THREE.DirectionalLight(0xffffff, 2.0);
    s.add(light);
    s.userData.light = light;
    if (g) {
      const material = new THREE.MeshStandardMaterial({ color: colour, roughness: 0.7, side: THREE.DoubleSide });
      s.add(new THREE.Mesh(g, material));
    }
    return s;
  }

  function show(index) {
    const o = DATA.objects[index];
    if (!geometries.has(index)) geometries.set(index, o.meshes.map(geometry));
    const gs = geometries.get(index);
    scenes = gs.map((g, i) => scene(g, COLOURS[i]));
    labels.innerHTML = "";
    DATA.views.forEach((name, i) => {
      const d = document.createElement("div");
      d.textContent = name + (gs[i] ? "" : " (empty)");
      labels.appendChild(d);
    });
    // one frame for all four, so their sizes compare: the largest bounding sphere fills a view
    let r = 0.1;
    gs.forEach((g) => { if (g) r = Math.max(r, g.boundingSphere.center.length() + g.boundingSphere.radius); });
    camera.position.set(0.6 * r, 0.8 * r, 3.2 * r);
    controls.target.set(0, 0, 0);
    controls.update();
    select.value = String(index);
    document.querySelectorAll("#metrics tbody tr").forEach((tr) => {
      tr.classList.toggle("selected", tr.dataset.id === o.id);
    });
    draw();
  }

  function draw() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.floor(w * renderer.getPixelRatio())) renderer.setSize(w, h, false);
    const n = scenes.length, vw = w / n;
    camera.aspect = vw / h;
    camera.updateProjectionMatrix();
    scenes.forEach((s, i) => {
      s.userData.light.position.copy(camera.position);
      renderer.setViewport(i * vw, 0, vw, h);
      renderer.setScissor(i * vw, 0, vw, h);
      renderer.render(s, camera);
    });
  }

  DATA.objects.forEach((o, i) => {
    const opt = document.createElement("option");
    opt.value = String(i);
    opt.textContent = o.id + " (" + o.split + ")";
    select.appendChild(opt);
  });
  select.addEventListener("change", () => show(Number(select.value)));
  controls.addEventListener("change", draw);
  window.addEventListener("resize", draw);

  // the per-object table: a click on a header sorts by that column (again: the other way), a click on a
  // row shows that object, the SIREN select keeps the rows of one kind
  const table = document.getElementById("metrics");
  const kindColumn = Array.from(table.tHead.rows[0].cells).findIndex((th) => th.textContent === "kind");
  table.tHead.querySelectorAll("th").forEach((th, col) => {
    th.addEventListener("click", () => {
      const up = !th.classList.contains("up");
      table.tHead.querySelectorAll("th").forEach((t) => t.classList.remove("up", "down"));
      th.classList.add(up ? "up" : "down");
      const body = table.tBodies[0];
      const key = (tr) => tr.cells[col];
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        const c = "v" in x.dataset && "v" in y.dataset
          ? Number(x.dataset.v) - Number(y.dataset.v)
          : x.textContent.localeCompare(y.textContent);
        return up ? c : -c;
      });
      rows.forEach((tr) => body.appendChild(tr));
    });
  });
  table.tBodies[0].addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    const i = DATA.objects.findIndex((o) => o.id === tr.dataset.id);
    if (i >= 0) show(i);
  });
  document.getElementById("kind").addEventListener("change", (e) => {
    Array.from(table.tBodies[0].rows).forEach((tr) => {
      tr.hidden = e.target.value !== "" && kindColumn >= 0 && tr.cells[kindColumn].textContent !== e.target.value;
    });
  });

  if (DATA.objects.length) show(0);
})();
