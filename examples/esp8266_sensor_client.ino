/*
  Energy Dash sensor client for ESP8266 (NodeMCU, Wemos D1 mini, ...).

  Every REPORT_INTERVAL_MS it reads the meter, stamps the reading with NTP time
  (configTime) and POSTs it as JSON to /api/hardware/data with the X-API-Key
  header. Failed sends (Wi-Fi down, server restarting, 429, 5xx) are retried with
  exponential backoff and then kept in a small RAM queue that is backfilled
  through /api/hardware/data/bulk once the server answers again. The server
  stores each (device, timestamp) once, so a resend is harmless.

  Arduino IDE: board "ESP8266" core >= 3.0; no extra libraries needed.
  Fill in the placeholders below. Never commit a real Wi-Fi password or API key:
  keep them in a local, untracked secrets.h if you prefer
  (#include "secrets.h" and delete the #defines here).

  Create the key on the server:  energy-dash create-api-key --facility 1 --name esp8266
  Field rules and status codes:  examples/HARDWARE_INTEGRATION.md
*/

#include <ESP8266WiFi.h>
#include <ESP8266HTTPClient.h>
#include <WiFiClient.h>
#include <time.h>

// ----------------------------------------------------------------- settings
#define WIFI_SSID      "YOUR_WIFI_SSID"
#define WIFI_PASSWORD  "YOUR_WIFI_PASSWORD"
#define SERVER_URL     "http://192.168.1.10:8050"   // no trailing slash; http only here
#define API_KEY        "YOUR_DEVICE_API_KEY"        // ed_... from create-api-key
#define DEVICE_ID      "esp8266-1"

const unsigned long REPORT_INTERVAL_MS = 60000;  // match the facility's interval
const int MAX_ATTEMPTS = 3;                      // per send, then queue
const unsigned long FIRST_BACKOFF_MS = 1000;     // 1 s, 2 s, 4 s, ...
const int QUEUE_SIZE = 60;                       // readings kept while offline
const float CAPACITY_KW = 50.0;                  // facility capacity for current_load

// ------------------------------------------------------------------ queue
struct Reading {
  time_t ts;
  float produced_kwh, consumed_kwh, load_pct;
  float voltage, current, current1, current2, current3, frequency, power_factor;
};

Reading queue[QUEUE_SIZE];
int queueHead = 0;   // oldest
int queueCount = 0;
bool keyRefused = false;
unsigned long lastReport = 0;

void enqueue(const Reading &r) {
  if (queueCount == QUEUE_SIZE) {            // full: drop the oldest
    queueHead = (queueHead + 1) % QUEUE_SIZE;
    queueCount--;
  }
  queue[(queueHead + queueCount) % QUEUE_SIZE] = r;
  queueCount++;
}

// -------------------------------------------------------------- the meter
// REPLACE with your meter (PZEM-004T, CT clamps + ADC, Modbus meter, ...).
// Energies are kWh in the interval since the previous reading.
Reading readMeter(unsigned long intervalMs) {
  Reading r;
  r.ts = time(nullptr);
  float hours = intervalMs / 3600000.0;
  float consumedKw = 8.0 + random(0, 600) / 100.0;
  float producedKw = 0.0;                 // no solar on this demo board
  r.voltage = 229.0 + random(0, 200) / 100.0;
  r.power_factor = 0.95;
  r.frequency = 50.0;
  r.current = consumedKw * 1000.0 / (r.voltage * r.power_factor);
  r.current1 = r.current * 0.35;
  r.current2 = r.current * 0.33;
  r.current3 = r.current * 0.32;
  r.produced_kwh = producedKw * hours;
  r.consumed_kwh = consumedKw * hours;
  r.load_pct = consumedKw / CAPACITY_KW * 100.0;
  return r;
}

// ------------------------------------------------------------------- JSON
void isoTime(time_t ts, char *out, size_t size) {
  struct tm t;
  gmtime_r(&ts, &t);
  strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &t);
}

int readingJson(const Reading &r, char *out, size_t size) {
  char stamp[25];
  isoTime(r.ts, stamp, sizeof(stamp));
  return snprintf(out, size,
    "{\"timestamp\":\"%s\",\"device_id\":\"%s\","
    "\"energy_produced\":%.5f,\"energy_consumed\":%.5f,\"current_load\":%.2f,"
    "\"voltage\":%.1f,\"current\":%.2f,\"current1\":%.2f,\"current2\":%.2f,"
    "\"current3\":%.2f,\"frequency\":%.3f,\"power_factor\":%.3f}",
    stamp, DEVICE_ID, r.produced_kwh, r.consumed_kwh, r.load_pct,
    r.voltage, r.current, r.current1, r.current2, r.current3,
    r.frequency, r.power_factor);
}

// ------------------------------------------------------------------- HTTP
// Returns the HTTP status, or a negative value when the server was not reached.
int postJson(const char *path, const String &body) {
  if (WiFi.status() != WL_CONNECTED) return -1;
  WiFiClient client;
  HTTPClient http;
  http.setTimeout(10000);
  if (!http.begin(client, String(SERVER_URL) + path)) return -1;
  http.addHeader("Content-Type", "application/json");
  http.addHeader("X-API-Key", API_KEY);
  int status = http.POST(body);
  if (status > 0 && status != 200 && status != 201) {
    Serial.printf("POST %s -> %d %s\n", path, status, http.getString().c_str());
  }
  http.end();
  return status;
}

bool retryable(int status) {
  return status < 0 || status == 429 || status >= 500;
}

// POST with exponential backoff; returns the final status.
int postWithRetry(const char *path, const String &body) {
  unsigned long backoff = FIRST_BACKOFF_MS;
  int status = -1;
  for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    status = postJson(path, body);
    if (!retryable(status)) return status;
    if (attempt < MAX_ATTEMPTS) {
      Serial.printf("POST %s failed (%d); retrying in %lu ms\n", path, status, backoff);
      delay(backoff);
      backoff *= 2;
    }
  }
  return status;
}

void handleFinal(int status) {
  if (status == 401 || status == 403) {
    keyRefused = true;   // wrong key or facility: stop until reconfigured
    Serial.println("The server refused the API key: check API_KEY and the facility.");
  }
  // 422: the reading is invalid (see the body printed above); it is dropped.
}

// Sends the queued readings (oldest first) through the bulk endpoint.
bool flushQueue() {
  while (queueCount > 0) {
    int n = min(queueCount, 20);           // small chunks: RAM is scarce
    String body = "[";
    char item[420];
    for (int i = 0; i < n; i++) {
      readingJson(queue[(queueHead + i) % QUEUE_SIZE], item, sizeof(item));
      if (i) body += ",";
      body += item;
    }
    body += "]";
    int status = postWithRetry("/api/hardware/data/bulk", body);
    if (retryable(status)) return false;   // still away: keep them
    handleFinal(status);
    queueHead = (queueHead + n) % QUEUE_SIZE;  // 200 (stored/duplicates) or refused
    queueCount -= n;
    Serial.printf("Backfilled %d readings (HTTP %d)\n", n, status);
  }
  return true;
}

void sendReading(const Reading &r) {
  if (queueCount > 0 && !flushQueue()) {
    enqueue(r);                            // keep the order behind older readings
    return;
  }
  char body[420];
  readingJson(r, body, sizeof(body));
  int status = postWithRetry("/api/hardware/data", String(body));
  if (retryable(status)) {
    enqueue(r);
    Serial.printf("Server unreachable; %d readings queued\n", queueCount);
    return;
  }
  handleFinal(status);
  if (status == 201 || status == 200) Serial.printf("Sent (HTTP %d)\n", status);
}

// ------------------------------------------------------------------ setup
void connectWifi() {
  if (WiFi.status() == WL_CONNECTED) return;
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  Serial.print("Wi-Fi");
  for (int i = 0; i < 40 && WiFi.status() != WL_CONNECTED; i++) {
    delay(500);
    Serial.print(".");
  }
  Serial.println(WiFi.status() == WL_CONNECTED ? " connected" : " not yet");
}

void waitForTime() {
  configTime(0, 0, "pool.ntp.org", "time.nist.gov");   // UTC; the server converts
  Serial.print("NTP");
  while (time(nullptr) < 1700000000) {   // before 2023: the clock is not set yet
    delay(500);
    Serial.print(".");
  }
  Serial.println(" ok");
}

void setup() {
  Serial.begin(115200);
  randomSeed(ESP.getChipId());
  connectWifi();
  waitForTime();                         // the server rejects readings before 2000
  lastReport = millis() - REPORT_INTERVAL_MS;
}

void loop() {
  if (keyRefused) {
    delay(60000);
    return;
  }
  if (millis() - lastReport >= REPORT_INTERVAL_MS) {
    unsigned long interval = millis() - lastReport;
    lastReport = millis();
    connectWifi();
    sendReading(readMeter(interval));
  }
  delay(50);
}
