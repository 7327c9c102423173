//! Prometheus metrics (`GET /metrics`, text exposition format).
//!
//! Label values are never taken from a client: endpoints and statuses are
//! ours, detection names come from the loaded signatures, so the number of
//! series stays bounded whatever clients send.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    bytes: Family<Labels, Counter>,
    detections: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    /// Scan jobs waiting for a worker.
    pub queue_depth: Gauge,
    /// Requests admitted (uploading, queued or scanning).
    pub in_flight: Gauge,
    reloads: Family<Labels, Counter>,
    signatures_age: Gauge<f64, AtomicU64>,
    signatures_generation: Gauge,
    taxii_publish: Family<Labels, Counter>,
    taxii_publish_objects: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~65 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("takedown");
        let requests = Family::<Labels, Counter>::default();
        let bytes = Family::<Labels, Counter>::default();
        let detections = Family::<Labels, Counter>::default();
        let latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let queue_depth = Gauge::default();
        let in_flight = Gauge::default();
        let reloads = Family::<Labels, Counter>::default();
        let signatures_age = Gauge::<f64, AtomicU64>::default();
        let signatures_generation = Gauge::default();
        let taxii_publish = Family::<Labels, Counter>::default();
        let taxii_publish_objects = Family::<Labels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by interface, endpoint or command, and status",
            requests.clone(),
        );
        registry.register(
            "scanned_bytes",
            "Bytes received for scanning, by interface",
            bytes.clone(),
        );
        registry.register(
            "detections",
            "Detections reported, by signature name",
            detections.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to answer of scans, by interface",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Scan jobs waiting for a worker",
            queue_depth.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Scan requests admitted: uploading, queued or scanning",
            in_flight.clone(),
        );
        registry.register("reloads", "Signature reloads, by result", reloads.clone());
        registry.register(
            "signatures_age_seconds",
            "Seconds since the running signature set was loaded",
            signatures_age.clone(),
        );
        registry.register(
            "signatures_generation",
            "Generation number of the running signature set",
            signatures_generation.clone(),
        );
        registry.register(
            "taxii_publish",
            "Detected scans whose sightings were published into the TAXII collection, by result (stored; dropped: queue full or shutting down; failed)",
            taxii_publish.clone(),
        );
        registry.register(
            "taxii_publish_objects",
            "STIX objects of published scans, by outcome (added; already_present: same id and version)",
            taxii_publish_objects.clone(),
        );
        Metrics {
            registry,
            requests,
            bytes,
            detections,
            latency,
            queue_depth,
            in_flight,
            reloads,
            signatures_age,
            signatures_generation,
            taxii_publish,
            taxii_publish_objects,
        }
    }

    /// Counts one scan's publication: `stored`, `dropped` or `failed`.
    pub fn publish(&self, result: &'static str) {
        self.taxii_publish
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    /// Counts the objects of a stored publication.
    pub fn publish_objects(&self, added: u64, already_present: u64) {
        for (outcome, n) in [("added", added), ("already_present", already_present)] {
            self.taxii_publish_objects
                .get_or_create(&vec![("outcome", outcome.to_string())])
                .inc_by(n);
        }
    }

    /// Counts one answered request.
    pub fn request(&self, interface: &'static str, what: &'static str, status: &str) {
        self.requests
            .get_or_create(&vec![
                ("interface", interface.to_string()),
                ("endpoint", what.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// Counts received bytes.
    pub fn bytes(&self, interface: &'static str, n: u64) {
        self.bytes
            .get_or_create(&vec![("interface", interface.to_string())])
            .inc_by(n);
    }

    /// Counts one detection.
    pub fn detection(&self, name: &str) {
        self.detections
            .get_or_create(&vec![("name", name.to_string())])
            .inc();
    }

    /// Records the duration of one scan request.
    pub fn latency(&self, interface: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&vec![("interface", interface.to_string())])
            .observe(seconds);
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&vec![(
                "result",
                if ok { "ok" } else { "refused" }.to_string(),
            )])
            .inc();
    }

    /// The text exposition, with the signature gauges brought up to date.
    pub fn render(&self, generation: u64, age_seconds: f64) -> String {
        self.signatures_age.set(age_seconds);
        self.signatures_generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.request("http", "scan", "200");
        m.bytes("http", 68);
        m.detection("EICAR_Test_File");
        m.latency("clamd", 0.002);
        m.queue_depth.set(3);
        m.reload(true);
        m.publish("dropped");
        m.publish_objects(5, 2);
        let text = m.render(2, 12.5);
        for want in [
            "takedown_requests_total{interface=\"http\",endpoint=\"scan\",status=\"200\"} 1",
            "takedown_scanned_bytes_total{interface=\"http\"} 68",
            "takedown_detections_total{name=\"EICAR_Test_File\"} 1",
            "takedown_request_duration_seconds_bucket{le=\"0.002\",interface=\"clamd\"} 1",
            "takedown_queue_depth 3",
            "takedown_reloads_total{result=\"ok\"} 1",
            "takedown_signatures_age_seconds 12.5",
            "takedown_signatures_generation 2",
            "takedown_taxii_publish_total{result=\"dropped\"} 1",
            "takedown_taxii_publish_objects_total{outcome=\"already_present\"} 2",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }
}
