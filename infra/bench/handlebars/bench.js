// Renders infra/bench/fixtures/standard-email.hbs with Handlebars.js and prints the median time
// per render in microseconds, as JSON. Helpers `date` and `time` format like Herald's filters.
"use strict";
const fs = require("fs");
const path = require("path");
const Handlebars = require("handlebars");

const fixtures = path.join(__dirname, "..", "fixtures");
const source = fs.readFileSync(path.join(fixtures, "standard-email.hbs"), "utf8");
const context = JSON.parse(fs.readFileSync(path.join(fixtures, "context.json"), "utf8"));

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
function parse(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) throw new Error(`'${value}' is not a date-time`);
  return { y: +m[1], mo: +m[2] - 1, d: +m[3], h: +m[4], mi: +m[5] };
}
Handlebars.registerHelper("date", (value, style) => {
  const t = parse(value);
  const base = `${t.d} ${MONTHS[t.mo]} ${t.y}`;
  if (style === "long") return `${DAYS[new Date(Date.UTC(t.y, t.mo, t.d)).getUTCDay()]} ${base}`;
  return base;
});
Handlebars.registerHelper("time", (value) => {
  const t = parse(value);
  const h = t.h % 12 === 0 ? 12 : t.h % 12;
  return `${h}:${String(t.mi).padStart(2, "0")} ${t.h >= 12 ? "pm" : "am"}`;
});

const template = Handlebars.compile(source, { strict: true });
const sample = template(context);
if (!sample.includes("Awards &lt;ceremony&gt;") || !sample.includes("Unsubscribe at any time")) {
  throw new Error("the fixture did not render as expected");
}

const perSample = 2000;
const samples = [];
for (let i = 0; i < 5 * perSample; i++) template(context); // warm-up
for (let s = 0; s < 100; s++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < perSample; i++) template(context);
  samples.push(Number(process.hrtime.bigint() - start) / perSample / 1000);
}
samples.sort((a, b) => a - b);
console.log(JSON.stringify({ engine: `handlebars ${Handlebars.VERSION}`, node: process.version, median_us: samples[50], p10_us: samples[10], p90_us: samples[90] }));
