//! `amocrm-bin`: a switchboard. Parsing, dispatch and error reporting live in `cli`; the
//! work lives in the `amocrm_bin` library.

mod cli;

fn main() -> std::process::ExitCode {
    amocrm_bin::alloc::one_arena();
    cli::main()
}
