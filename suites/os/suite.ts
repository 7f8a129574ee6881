import { defineSuite } from '../../harness/runner/types.ts';

export default defineSuite({
  title: 'OS: identity, partitions, engine, containers, persistence',
});
