#pragma once
// The user project's own core/shape.h. If an ember header included "core/shape.h" and found this
// file instead of ember's, ember::Shape and shape_numel would be missing and the build would fail;
// the macro below makes the mix-up explicit too.
#define USER_PROJECT_CORE_SHAPE 1
struct Shape {
  int width = 0, height = 0;
};
