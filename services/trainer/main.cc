// sslab-trainer: a worker that runs TRAIN jobs (pretext training) on its one
// device. Flags: see services/worker/worker_main.h.
#include "services/jobs/jobs.h"

int main(int argc, char** argv) {
  return sslab::services::WorkerMain(argc, argv,
                                     sslab::services::TrainerProgram());
}
