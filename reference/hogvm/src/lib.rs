//! HogVM, the last stage of Hog: runs PostHog's Hog bytecode with PostHog's standard library.
//!
//! Pure: no I/O, no clock, no randomness of its own. The host ([`Host`]) gives the time (for the time
//! budget and `now()`), random numbers and the output of `print`; a call of an async function (`sleep`,
//! or one the host names in [`Options::async_functions`], e.g. `fetch`) suspends the run and hands the call
//! to the host, which answers with [`Vm::resume`].
//!
//! The behaviour is PostHog's JavaScript VM (`@posthog/hogvm`), checked against it by the differential
//! harness in `xtask`: same printed output, same return value (as `print` shows it), same errors. Every
//! limit is a coded [`Error`]; no bytecode makes the VM panic.
//!
//! ```
//! let program = hogvm::Program::from_json_str(r#"["_H", 1, 32, "hello", 2, "print", 1, 35]"#).unwrap();
//! let run = hogvm::run(&program, hogvm::Options::default()).unwrap();
//! assert_eq!(run.stdout, vec!["hello".to_string()]);
//! ```

pub mod date;
pub mod error;
pub mod gc;
pub mod js;
pub mod ops;
pub mod print;
pub mod program;
pub mod stl;
pub mod value;
pub mod vm;
pub mod zone;

pub use error::{Code, Error, Result};
pub use print::{print_output, print_value};
pub use program::Program;
pub use value::Value;
pub use vm::{Host, Options, Outcome, Vm};

/// A host for tests and tools: a fixed clock, a seeded random sequence, `print` collected in memory,
/// and async calls answered by a function.
#[allow(missing_debug_implementations)]
pub struct TestHost {
    /// The clock, in milliseconds since the epoch; advanced by 1 µs at every read.
    pub now_ms: f64,
    /// The state of the random sequence.
    pub seed: u64,
    /// What `print` wrote.
    pub stdout: Vec<String>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self {
            now_ms: 1_700_000_000_000.0,
            seed: 0x9E37_79B9_7F4A_7C15,
            stdout: Vec::new(),
        }
    }
}

impl Host for TestHost {
    fn now_ms(&mut self) -> f64 {
        self.now_ms += 0.001;
        self.now_ms
    }

    fn random(&mut self) -> f64 {
        // splitmix64
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let f = (z >> 11) as f64 / (1u64 << 53) as f64;
        f
    }

    fn print(&mut self, line: &str) {
        self.stdout.push(line.to_string());
    }
}

/// What a whole run gave: printed lines, and the result or the error.
#[derive(Debug)]
pub struct Run {
    /// The lines `print` wrote.
    pub stdout: Vec<String>,
    /// The returned value, or the error that ended the run.
    pub result: Result<Value>,
    /// Operations performed.
    pub ops: u64,
}

/// Runs a program to the end with a [`TestHost`]: `sleep` returns `null`, and every host async function
/// answers with the test convention (see [`test_async_answer`]).
pub fn run(program: &Program, options: Options) -> Result<Run> {
    let mut host = TestHost::default();
    let mut vm = Vm::new(program, options);
    let mut outcome = vm.run(&mut host);
    loop {
        match outcome {
            Ok(Outcome::Suspended { name, args }) => {
                let answer = test_async_answer(&name, &args);
                outcome = vm.resume(answer, &mut host);
            }
            Ok(Outcome::Finished(v)) => {
                return Ok(Run {
                    stdout: host.stdout,
                    result: Ok(v),
                    ops: vm.ops(),
                });
            }
            Err(e) => {
                return Ok(Run {
                    stdout: host.stdout,
                    result: Err(e),
                    ops: vm.ops(),
                });
            }
        }
    }
}

/// The answer the test hosts (this crate's and the oracle driver) give an async call: `null` for
/// `sleep`, and `{'name': NAME, 'args': [ARGS...]}` for any other function.
pub fn test_async_answer(name: &str, args: &[Value]) -> Value {
    if name == "sleep" {
        return Value::Null;
    }
    let mut d = value::Dict::new();
    d.insert(value::Key::from("name"), Value::str(name));
    d.insert(value::Key::from("args"), Value::array(args.to_vec()));
    Value::dict(d)
}
