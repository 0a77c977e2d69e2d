// All of attend's differentiable ops.
#pragma once

#include "attend/autograd/autograd.h"
#include "attend/ops/elementwise.h"
#include "attend/ops/conv.h"
#include "attend/ops/linalg.h"
#include "attend/ops/nn_ops.h"
#include "attend/ops/reduce.h"
#include "attend/ops/shape_ops.h"
