//! Every error the native module raises is converted here, in one place: core errors
//! become the matching class of `crm.exceptions` (defined in Python so that each can also
//! inherit the built-in it resembles, which `create_exception!` cannot do: it takes one base).

use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

/// What can go wrong in a binding call.
#[derive(Debug)]
pub enum Error {
    /// An error of the core.
    Core(crm_core::Error),
    /// Input that did not convert to a core type (shape, type), with the field path.
    Input { field: String, reason: String },
    /// The handle was closed.
    Closed,
    /// A Python error (for example from a progress callback).
    Py(PyErr),
}

/// Result alias of the binding.
pub type Result<T> = std::result::Result<T, Error>;

impl From<crm_core::Error> for Error {
    fn from(e: crm_core::Error) -> Self {
        Error::Core(e)
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn raise(py: Python<'_>, class: &str, message: String, attrs: &[(&str, Py<PyAny>)]) -> PyResult<PyErr> {
    let module = EXCEPTIONS.get_or_try_init(py, || py.import("crm.exceptions").map(Bound::unbind))?;
    let kwargs = PyDict::new(py);
    for (k, v) in attrs {
        kwargs.set_item(k, v)?;
    }
    let exc = module.bind(py).getattr(class)?.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        use crm_core::{Error as E, StorageErrorKind};
        Python::attach(|py| {
            let s = |v: &str| v.into_pyobject(py).map(|o| o.into_any().unbind());
            let made = match e {
                Error::Py(err) => return err,
                Error::Closed => raise(py, "CrmError", "the Crm handle is closed".into(), &[]),
                Error::Input { field, reason } => (|| {
                    // Made here (a shape error quoting a long value): cut as the core's are.
                    let field = crm_core::short_message(&field).into_owned();
                    let reason = crm_core::short_message(&reason).into_owned();
                    let msg = crm_core::short_message(&format!("invalid {field}: {reason}")).into_owned();
                    raise(py, "ValidationError", msg, &[("field", s(&field)?), ("reason", s(&reason)?)])
                })(),
                Error::Core(core) => (|| {
                    let msg = core.to_string();
                    match &core {
                        E::Validation { field, reason } => {
                            raise(py, "ValidationError", msg, &[("field", s(field)?), ("reason", s(reason)?)])
                        }
                        E::NotFound { entity, id } => {
                            raise(py, "NotFoundError", msg, &[("entity", s(entity.as_str())?), ("id", s(id)?)])
                        }
                        E::Parse { line, column, found, expected } => raise(
                            py,
                            "ParseError",
                            msg,
                            &[
                                ("line", line.into_pyobject(py)?.into_any().unbind()),
                                ("column", column.into_pyobject(py)?.into_any().unbind()),
                                ("found", s(found)?),
                                ("expected", s(expected)?),
                            ],
                        ),
                        E::Conflict(_) => raise(py, "ConflictError", msg, &[]),
                        E::SchemaTooNew { found, supported } => raise(
                            py,
                            "SchemaTooNewError",
                            msg,
                            &[
                                ("found", found.into_pyobject(py)?.into_any().unbind()),
                                ("supported", supported.into_pyobject(py)?.into_any().unbind()),
                            ],
                        ),
                        E::InsufficientPoints { available, requested } => raise(
                            py,
                            "InsufficientPointsError",
                            msg,
                            &[
                                ("available", available.into_pyobject(py)?.into_any().unbind()),
                                ("requested", requested.into_pyobject(py)?.into_any().unbind()),
                            ],
                        ),
                        E::Cancelled => raise(py, "CancelledError", msg, &[]),
                        E::Merge { kind, .. } => raise(py, "MergeError", msg, &[("kind", s(kind.as_str())?)]),
                        E::Io(_) => raise(py, "IoError", msg, &[]),
                        E::Storage { kind, .. } => {
                            let class = match kind {
                                StorageErrorKind::Busy => "BusyError",
                                StorageErrorKind::Unavailable => "UnavailableError",
                                _ => "StorageError",
                            };
                            raise(py, class, msg, &[("kind", kind.as_str().into_pyobject(py)?.into_any().unbind())])
                        }
                        _ => raise(py, "CrmError", msg, &[]),
                    }
                })(),
            };
            made.unwrap_or_else(|failed| {
                // Making the exception runs Python code, which first runs pending signal
                // handlers: a Ctrl-C that arrived during the call raises KeyboardInterrupt
                // there. That (or SystemExit) is what the user asked for, so it wins over
                // crm's error; only an ordinary failure says crm could not raise its own.
                if failed.is_instance_of::<PyException>(py) {
                    PyRuntimeError::new_err(format!("crm could not raise its own exception: {failed}"))
                } else {
                    failed
                }
            })
        })
    }
}
