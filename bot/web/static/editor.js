// The mask editor: paint (brush, lasso, eraser) on a canvas the image's size over the image; on
// submit the painted pixels become a white-on-black PNG mask sent with the prompt. No library and
// nothing loaded from elsewhere (the page's Content-Security-Policy forbids it).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const paint = document.getElementById("paint");
  const ctx = paint.getContext("2d");
  const size = document.getElementById("size");
  const form = document.getElementById("form");
  const problem = document.getElementById("problem");
  const tools = { brush: "brush", lasso: "lasso", eraser: "eraser" };
  let tool = "brush";
  let drawing = false;
  let lasso = [];
  let painted = false;

  for (const name of Object.keys(tools)) {
    document.getElementById(name).addEventListener("click", () => {
      tool = name;
      for (const other of Object.keys(tools)) {
        const button = document.getElementById(other);
        button.classList.toggle("active", other === name);
        button.setAttribute("aria-pressed", String(other === name));
      }
    });
  }
  document.getElementById("clear").addEventListener("click", () => {
    ctx.clearRect(0, 0, paint.width, paint.height);
    painted = false;
  });

  // The brush's diameter: a share of the image's shorter side, so it feels the same at any size.
  const brushWidth = () => Math.max(1, Math.round((Math.min(paint.width, paint.height) * Number(size.value)) / 100));

  // Pointer position in the image's own pixels (the canvas is shown scaled).
  const at = (event) => {
    const box = paint.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * paint.width) / box.width,
      y: ((event.clientY - box.top) * paint.height) / box.height,
    };
  };

  const style = () => {
    ctx.globalCompositeOperation = tool === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = "rgb(255, 40, 40)";
    ctx.fillStyle = "rgb(255, 40, 40)";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = tool === "lasso" ? Math.max(1, paint.width / 256) : brushWidth();
  };

  let last = null;
  paint.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    paint.setPointerCapture(event.pointerId);
    drawing = true;
    last = at(event);
    style();
    if (tool === "lasso") {
      lasso = [last];
    } else {
      ctx.beginPath();
      ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      painted = painted || tool === "brush";
    }
  });
  paint.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const point = at(event);
    style();
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(point.x, point.y);
    ctx.stroke();
    if (tool === "lasso") lasso.push(point);
    if (tool === "brush") painted = true;
    last = point;
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    if (tool === "lasso" && lasso.length > 2) {
      style();
      ctx.beginPath();
      ctx.moveTo(lasso[0].x, lasso[0].y);
      for (const point of lasso.slice(1)) ctx.lineTo(point.x, point.y);
      ctx.closePath();
      ctx.fill();
      painted = true;
    }
    lasso = [];
  };
  paint.addEventListener("pointerup", finish);
  paint.addEventListener("pointercancel", finish);

  // The mask: white where anything is painted, black elsewhere, at the image's size.
  const maskBlob = () =>
    new Promise((resolve) => {
      const mask = document.createElement("canvas");
      mask.width = paint.width;
      mask.height = paint.height;
      const m = mask.getContext("2d");
      m.drawImage(paint, 0, 0);
      m.globalCompositeOperation = "source-in";
      m.fillStyle = "#fff";
      m.fillRect(0, 0, mask.width, mask.height);
      m.globalCompositeOperation = "destination-over";
      m.fillStyle = "#000";
      m.fillRect(0, 0, mask.width, mask.height);
      mask.toBlob(resolve, "image/png");
    });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!painted) {
      problem.textContent = problem.dataset.nothing;
      problem.hidden = false;
      return;
    }
    const blob = await maskBlob();
    const files = new DataTransfer();
    files.items.add(new File([blob], "mask.png", { type: "image/png" }));
    document.getElementById("mask").files = files.files;
    document.getElementById("send").disabled = true;
    form.submit();
  });

  const image = document.getElementById("source");
  const ready = () => document.body.setAttribute("data-ready", "1");
  if (image.complete) ready();
  else image.addEventListener("load", ready);
});
