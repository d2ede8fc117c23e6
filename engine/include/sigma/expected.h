// sigma/expected.h - the engine's names for the project's result type (base/result.h): the
// engine returns sigma::Expected<T> at its public API and throws sigma::Exception inside, with
// the stage added on the way up. The error codes the engine itself produces: Generic,
// InvalidArgument, NotFound, BadFile, Unsupported, Io, Cancelled, ContextFull.
#pragma once

#include <base/result.h>

namespace sigma {

using sigmaops::catch_to_expected;
using sigmaops::Error;
using sigmaops::ErrorCode;
using sigmaops::Exception;
using sigmaops::Expected;
using sigmaops::rethrow_with_stage;
using sigmaops::unexpected;
using sigmaops::Unexpected;

} // namespace sigma
