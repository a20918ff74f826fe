//! The site configuration: the policy file (monitored and blocked ports, the printer inventory,
//! allowed clients, thresholds, windows, the defragmenters' overlap policy, the sensor's name,
//! the Kafka output) with the command line's shorthands on top, checked with file and line. Read
//! at start and again on SIGHUP; detection, the flow stage, the capture filter and the output
//! each take their part.

mod policy;

pub use policy::*;
