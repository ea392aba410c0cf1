/* run_cmd.h: `gpenlab-gpu run`: one network forward, or the whole pipeline, on a given
 * input, with the output written to a file, so that another implementation (PyTorch:
 * scripts/gpen_torch.py forward, scripts/pipe_torch.py) can be compared with it:
 *   run gpen       --in X.safetensors --out Y.safetensors   [B,3,S,S] in [-1,1] -> "out"
 *   run retinaface --in X.safetensors --out Y.safetensors   [1,3,H,W] BGR - mean -> "level0..2"
 *   run parsenet   --in X.safetensors --out Y.safetensors   [B,3,S,S] -> "out" [B,22,S,S]
 *   run pipeline   --in photo.jpg --out restored.jpg [--faces N] [--quality Q]
 * The networks also run on the CPU reference with --cpu (gpu/ref: float storage, double
 * accumulation), which needs no GPU: a build without CUDA answers everything else with
 * "built without CUDA". Prints, returns the program's exit code. */
#ifndef GP_RUN_CMD_H
#define GP_RUN_CMD_H

int cmd_run(int argc, char **argv); /* argv[0] = "run" */

#endif
