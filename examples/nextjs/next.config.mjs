/** @type {import('next').NextConfig} */
export default {
  // Hookbox runs on Node as it ships (native SQLite driver, SQL files read beside its modules):
  // load it from node_modules at run time instead of bundling it.
  serverExternalPackages: ['hookbox'],
};
