//! Arbitrary text as a signal rule file and as a sequence rule file: a bad rule file is an
//! error with a place, never a panic. Rules that load are run over their own text.

#![no_main]

use imagewatch::Classifier;
use imagewatch::SequenceRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = vec![("fuzz.yaml".to_string(), text.to_string())];
    if let Ok(classifier) = Classifier::from_sources(&files) {
        let _ = classifier.check_examples();
        for line in text.lines().take(64) {
            if classifier.may_match(line.as_bytes()) {
                let _ = classifier.classify(line);
            }
        }
    }
    if let Ok(rules) = SequenceRules::from_sources(&files) {
        let _ = imagewatch::wanted_kinds(&rules);
    }
});
