/**
 * `hookbox/fastify`: a Fastify plugin serving Hookbox's routes. Fastify parses JSON bodies by
 * default, and a signature covers the raw bytes; inside this plugin (an encapsulated context)
 * no content-type parser runs, so the body reaches Hookbox exactly as it was sent. The app's
 * own parsers, outside the plugin, are untouched.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Hookbox } from '../public-types.ts';
import { createNodeListener } from './node.ts';
import { hookboxRoutes } from './paths.ts';

/** `await app.register(createFastifyPlugin(hookbox))` (no prefix: Hookbox's paths are absolute). */
export function createFastifyPlugin(hookbox: Pick<Hookbox, 'fetch'>): FastifyPluginAsync {
  const listener = createNodeListener(hookbox);
  return async (instance) => {
    instance.removeAllContentTypeParsers();
    // Leave the body unread: Hookbox reads it from the raw request, up to the source's limit.
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    for (const route of hookboxRoutes) {
      instance.route({
        method: [...route.methods],
        url: route.path,
        handler: async (request, reply) => {
          reply.hijack();
          await listener(request.raw, reply.raw);
        },
      });
    }
  };
}
